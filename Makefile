# The project's verbs. Everything runs from the repository's own venv (.venv), made on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt install broker-install connect-install broker-start broker-stop bench clean

## demo: start a local broker and publish the sample files through the real function path
demo: install
	$(PY) -m objstream.demo $(DEMO_ARGS)

## test: the whole test suite against a real broker (started by the suite itself), with branch
## coverage of the function's code measured in the test process (fdk subprocesses are not counted)
test: install
	$(PY) -m pytest --cov --cov-report=term:skip-covered

## lint: ruff and mypy (strict), as CI runs them
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## install: the venv with objstream and its development tools, the broker's jars, and what the
## Kafka Connect tests need (Connect and the Debezium JDBC sink from Maven, PostgreSQL from Debian)
install: $(STAMP) broker-install connect-install

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

broker-install: $(STAMP)
	$(PY) -m objstream.testing.jvm_kafka install

connect-install:
	bash connect/install.sh

## broker-start / broker-stop: a local JVM Kafka for manual use (state in broker/run/default)
broker-start: broker-install
	$(PY) -m objstream.testing.jvm_kafka start

broker-stop:
	$(PY) -m objstream.testing.jvm_kafka stop

## bench: throughput against a bare confluent-kafka ceiling, peak memory, cold start
bench: install
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) broker/cache broker/run .pytest_cache .mypy_cache .ruff_cache
