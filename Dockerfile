# The function image: the objstream wheel and its dependencies under /python, served by fdk.
# Built by `fn build` / `fn deploy` (func.yaml says runtime: docker).
FROM fnproject/python:3.11-dev AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY function ./function
COPY kafka_client ./kafka_client
RUN pip3 install --no-cache-dir --target /python .

FROM fnproject/python:3.11
WORKDIR /function
COPY --from=build /python /python
ENV PYTHONPATH=/python \
    PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["/python/bin/fdk", "/python/function/func.py", "handler"]
