"""The function image holds what the function runs and nothing else (no CLI, no stand-ins).

`docker build` cannot run on these machines, so this reads what the build would use: the
Dockerfile's COPY sources, filtered by .dockerignore, and the requirements it installs.
"""

from __future__ import annotations

import re
from pathlib import Path

from objstream.testing.image import ROOT, image_files


def test_the_image_holds_the_function_and_kafka_client_only() -> None:
    files = image_files()

    assert "function/func.py" in files
    assert "kafka_client/publisher.py" in files
    assert {name.split("/")[0] for name in files} == {"function", "kafka_client"}


def test_the_image_holds_no_workstation_code_or_caches() -> None:
    files = image_files()

    assert not [name for name in files if "cli" in Path(name).stem or "standin" in name]
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in files if name.startswith(("objstream/", "tests/", "bench/"))]


def test_the_image_installs_only_the_functions_runtime_requirements() -> None:
    lines = (ROOT / "function" / "requirements.txt").read_text().splitlines()
    names = {re.split(r"[<>=\[ ]", line)[0] for line in lines if line and line[0] != "#"}

    # The OpenTelemetry pair sends traces to OCI APM (imported only when tracing is on);
    # pyarrow (Parquet, imported lazily), fastavro and cramjam (Avro and its snappy codec).
    assert names == {
        "confluent-kafka",
        "fdk",
        "oci",
        "opentelemetry-exporter-zipkin-json",
        "opentelemetry-sdk",
        "orjson",
        "zstandard",
        "pyarrow",
        "fastavro",
        "cramjam",
    }
    assert "function/requirements.txt" in (ROOT / "Dockerfile").read_text()


def test_nothing_in_the_function_imports_the_workstation_kit() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix()
        for package in ("function", "kafka_client")
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"^\s*(from|import) (objstream|rich)\b", path.read_text(), re.MULTILINE)
    ]

    assert offenders == []
