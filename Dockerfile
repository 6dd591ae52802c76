# The function image: the run-time requirements and the two packages the function runs
# (function/ and kafka_client/) under /python, served by fdk. Nothing else: the workstation kit
# (objstream/: CLI, demo, stand-ins) is not copied (.dockerignore lets only these in).
# Built by `fn build` / `fn deploy` (func.yaml says runtime: docker).
FROM fnproject/python:3.11-dev AS build
COPY function/requirements.txt /src/requirements.txt
RUN pip3 install --no-cache-dir --target /python -r /src/requirements.txt

FROM fnproject/python:3.11
WORKDIR /function
COPY --from=build /python /python
COPY function /python/function
COPY kafka_client /python/kafka_client
ENV PYTHONPATH=/python \
    PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["/python/bin/fdk", "/python/function/func.py", "handler"]
