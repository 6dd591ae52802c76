# The project's verbs. Everything runs from the repository's own venv (.venv), made on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint lint-iac fmt install tools-install broker-install connect-install broker-start broker-stop bench rm-stack clean

## demo: start a local broker and publish the sample files through the real function path
## (it needs the venv and the broker's jars only, not the test and Terraform tools)
demo: $(STAMP) broker-install
	$(PY) -m objstream.demo $(DEMO_ARGS)

## test: the whole test suite against a real broker (started by the suite itself), with branch
## coverage of the function's code measured in the test process (fdk subprocesses are not counted)
test: install
	$(PY) -m pytest --cov --cov-report=term:skip-covered

## lint: ruff and mypy (strict), and the Terraform checks (lint-iac), as CI runs them
lint: install lint-iac
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## lint-iac: `tofu fmt -check` and checkov (offline) over deploy/ (the module is scanned through the
## example root that calls it; the Resource Manager root only calls the same module)
lint-iac: tools-install
	TF_CLI_CONFIG_FILE=/dev/null $(TOFU) fmt -check -recursive -diff deploy/
	$(CHECKOV) --skip-download --framework terraform --compact --quiet -d deploy/terraform

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## install: the venv with objstream and its development tools, the broker's jars, and what the
## Kafka Connect tests need (Connect and the Debezium JDBC sink from Maven, PostgreSQL from Debian)
install: $(STAMP) broker-install connect-install tools-install

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## tools-install: OpenTofu (built from its Go module, scripts/install-tofu.sh) and checkov (in its
## own venv: it pins many packages) under .tools/
TOOLS := .tools
TOFU := $(TOOLS)/bin/tofu
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(TOOLS)/checkov-venv
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

tools-install: $(CHECKOV_STAMP)
	bash scripts/install-tofu.sh

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $(CHECKOV_STAMP)

## rm-stack: the Resource Manager stack as a zip in dist/ (upload it in the console)
rm-stack:
	$(PYTHON) scripts/rm_stack.py

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
	@command -v kcat >/dev/null 2>&1 || { echo "make bench: kcat is missing: the bench measures objstream against it. Install Debian's kcat package (apt-get install kcat; .ci/run installs it)." >&2; exit 1; }
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dist broker/cache broker/run .pytest_cache .mypy_cache .ruff_cache
