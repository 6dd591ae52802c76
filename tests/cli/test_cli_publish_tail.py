"""`objstream publish` then `objstream tail`, against the real broker, as a user runs them."""

from __future__ import annotations

import json
import shutil
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.cli.running import SAMPLES, run_objstream

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.broker


def _tail_json(env: dict[str, str]) -> list[dict[str, Any]]:
    ran = run_objstream("tail", "--from-beginning", "--json", "--timeout", "2", env=env)
    assert ran.code == 0, ran.stderr
    return [json.loads(line) for line in ran.stdout.splitlines()]


def _about(messages: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["subject"] == name]


def test_published_csv_rows_are_what_tail_shows(stream_env: dict[str, str]) -> None:
    prefix = f"cli/{uuid.uuid4().hex[:8]}/"
    ran = run_objstream(
        "publish", "--prefix", prefix, str(SAMPLES / "orders.csv"), str(SAMPLES / "sensors.jsonl"),
        env=stream_env,
    )  # fmt: skip
    assert ran.code == 0, ran.output
    assert "published" in ran.stdout
    assert "2 published" in ran.stdout  # the total line of the summary table

    messages = _tail_json(stream_env)
    orders = _about(messages, prefix + "samples/orders.csv")
    assert [m["type"] for m in orders] == (
        ["com.oraclecloud.objectstorage.createobject"]
        + ["objstream.record"] * 5
        + ["objstream.object.published"]
    )
    assert [m["index"] for m in orders[1:-1]] == [0, 1, 2, 3, 4]
    assert {m["key"] for m in orders} == {f"local/uploads/{prefix}samples/orders.csv"}
    assert len({m["partition"] for m in orders}) == 1
    first, fourth = orders[1]["value"], orders[4]["value"]
    assert first["customer"] == "Smith, Jane"  # the BOM is not part of the first header
    assert first["order_id"] == "1001"
    assert fourth["note"] == "two-line note:\r\nring twice"
    event = orders[0]["value"]
    assert event["data"]["additionalDetails"]["eTag"] == orders[1]["headers"]["ce_etag"]

    sensors = _about(messages, prefix + "samples/sensors.jsonl")
    assert [m["type"] for m in sensors].count("objstream.record.invalid") == 1
    assert sensors[-1]["value"]["invalid"] == 1


def test_publish_json_reports_each_file(stream_env: dict[str, str]) -> None:
    ran = run_objstream(
        "publish", "--json", "--name", f"cli/{uuid.uuid4().hex[:8]}/clicks.jsonl.gz",
        str(SAMPLES / "clickstream.jsonl.gz"), env=stream_env,
    )  # fmt: skip
    assert ran.code == 0, ran.output
    [result] = [json.loads(line) for line in ran.stdout.splitlines()]
    assert result["status"] == "published"
    assert result["records"] == 18
    assert result["compression"] == "gzip"
    assert result["object"].endswith("/clicks.jsonl.gz")


def test_a_folder_is_published_with_names_relative_to_the_current_folder(
    stream_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / f"drop-{uuid.uuid4().hex[:6]}"
    (folder / "logs").mkdir(parents=True)
    shutil.copy(SAMPLES / "app.log", folder / "logs" / "app.log")
    shutil.copy(SAMPLES / "catalog.json", folder / "catalog.json")
    ran = run_objstream("publish", "--json", folder.name, env=stream_env, cwd=tmp_path)
    assert ran.code == 0, ran.output
    names = [json.loads(line)["object"] for line in ran.stdout.splitlines()]
    assert names == [f"{folder.name}/catalog.json", f"{folder.name}/logs/app.log"]


def test_tail_lines_show_type_subject_index_key_and_value(stream_env: dict[str, str]) -> None:
    name = f"cli/{uuid.uuid4().hex[:8]}/one.jsonl"
    source = stream_env  # same settings for both commands
    assert (
        run_objstream("publish", "--name", name, str(SAMPLES / "sensors.jsonl"), env=source).code
        == 0
    )
    ran = run_objstream("tail", "--from-beginning", "--timeout", "2", env=source)
    assert ran.code == 0, ran.stderr
    lines = [line for line in ran.stdout.splitlines() if f" {name}" in line]
    record = next(line for line in lines if "objstream.record " in line and f"{name} #0" in line)
    partition_offset, kind = record.split()[:2]
    assert kind == "objstream.record"
    assert partition_offset.replace("/", "").isdigit()
    assert f"key=local/uploads/{name}" in record
    assert '{"ts":"2026-11-27T10:00:01.112Z"' in record
    assert "tailing" in ran.stderr  # what is being read goes to stderr, records to stdout


def test_tail_max_stops_after_n_messages(stream_env: dict[str, str]) -> None:
    run_objstream("publish", str(SAMPLES / "catalog.json"), env=stream_env)
    ran = run_objstream("tail", "--from-beginning", "--json", "--max", "3", env=stream_env)
    assert ran.code == 0, ran.stderr
    assert len(ran.stdout.splitlines()) == 3


def test_a_wrong_token_fails_publish_in_one_line_without_the_token(
    stream_env: dict[str, str],
) -> None:
    env = {**stream_env, "STREAM_AUTH_TOKEN": "not-the-token-8d1f"}
    ran = run_objstream("publish", str(SAMPLES / "orders.csv"), env=env)
    assert ran.code == 1
    last = ran.stderr.strip().splitlines()[-1]
    assert last.startswith("objstream: error: the broker at ")
    assert "refused SASL authentication" in last
    assert "Traceback" not in ran.stderr
    assert "not-the-token-8d1f" not in ran.output
    assert "failed" in ran.stdout  # the summary table still says what happened
    assert ran.seconds < 15


def test_tail_shows_packed_messages_record_by_record_or_as_messages(
    stream_env: dict[str, str],
) -> None:
    name = f"cli/{uuid.uuid4().hex[:8]}/packed.jsonl"
    packing = {**stream_env, "MESSAGE_PACKING": "jsonl", "PACK_MAX_RECORDS": "2"}
    ran = run_objstream("publish", "--name", name, str(SAMPLES / "sensors.jsonl"), env=packing)
    assert ran.code == 0, ran.output

    records = [m for m in _about(_tail_json(stream_env), name) if m["type"] == "objstream.records"]
    assert records, "no packed records"
    assert [m["index"] for m in records] == sorted(m["index"] for m in records)
    for record in records:
        version = record["pack"]["id"].rsplit("-", 2)[0]
        assert record["id"] == f"{version}-{record['index']}"
        assert record["pack"]["index"] <= record["index"]
        assert record["index"] < record["pack"]["index"] + record["pack"]["count"]
    assert records[0]["value"]["ts"] == "2026-11-27T10:00:01.112Z"

    ran = run_objstream("tail", "--from-beginning", "--timeout", "2", env=stream_env)
    lines = [line for line in ran.stdout.splitlines() if f" {name} #" in line]
    first = next(line for line in lines if f"{name} #0 " in line)
    assert "objstream.records" in first
    assert f"id={records[0]['id']}" in first

    ran = run_objstream("tail", "--from-beginning", "--messages", "--timeout", "2", env=stream_env)
    packs = [
        line for line in ran.stdout.splitlines() if "objstream.records" in line and name in line
    ]
    assert len(packs) == len({m["pack"]["id"] for m in records})
    assert f"{name} #0 (2 records)" in packs[0]
