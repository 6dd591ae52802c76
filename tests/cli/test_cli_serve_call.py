"""`objstream serve` + `objstream call` (fdk's unix socket, as Fn), and `objstream invoke`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from tests.cli.running import ROOT, SAMPLES, run_objstream

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.broker


@pytest.fixture
def local_env(stream_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Objects read from LOCAL_OBJECTS_DIR/<namespace>/<bucket>/<name>."""
    objects = tmp_path / "objects"
    (objects / "local" / "uploads" / "in").mkdir(parents=True)
    shutil.copy(SAMPLES / "orders.csv", objects / "local" / "uploads" / "in" / "orders.csv")
    return {**stream_env, "LOCAL_OBJECTS_DIR": str(objects)}


@pytest.fixture
def serving(
    local_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """`objstream serve --socket …` running in the foreground of a subprocess."""
    socket_path = tmp_path / "fn" / "lsnr.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "objstream.cli", "serve", "--socket", str(socket_path)],
        env=local_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "objstream serve did not listen in 60 s"
            time.sleep(0.05)
        yield socket_path, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def _event(local_env: dict[str, str], name: str, tmp_path: Path) -> Path:
    ran = run_objstream("event", name, env=local_env)
    assert ran.code == 0, ran.stderr
    path = tmp_path / "event.json"
    path.write_text(ran.stdout)
    return path


def test_serve_and_call_publish_through_the_fdk_socket(
    serving: tuple[Path, subprocess.Popen[str]], local_env: dict[str, str], tmp_path: Path
) -> None:
    socket_path, process = serving
    event = _event(local_env, "in/orders.csv", tmp_path)
    assert json.loads(event.read_text())["data"]["additionalDetails"]["eTag"]

    ran = run_objstream("call", str(event), "--socket", str(socket_path), env=local_env)
    assert ran.code == 0, ran.output
    assert ran.stderr.startswith("HTTP 200 in ")
    answer = json.loads(ran.stdout)
    assert answer["status"] == "published"
    assert answer["records"] == 5
    assert answer["object"] == "in/orders.csv"

    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"unix:{socket_path}" in stdout
    assert not socket_path.exists()
    assert not socket_path.with_name("phonylsnr.sock").exists()


def test_call_reads_the_event_from_stdin_and_reports_a_stale_etag_as_skipped(
    serving: tuple[Path, subprocess.Popen[str]], local_env: dict[str, str]
) -> None:
    socket_path, _ = serving
    body = run_objstream("event", "in/orders.csv", "--etag", "an-older-version", env=local_env)
    ran = run_objstream(
        "call", "-", "--socket", str(socket_path), "--deadline", "20", env=local_env,
        stdin=body.stdout,
    )  # fmt: skip
    assert ran.code == 0, ran.output
    answer = json.loads(ran.stdout)
    assert answer["status"] == "skipped"
    assert "overwritten" in answer["reason"]


def test_invoke_runs_the_handler_logic_in_process(
    local_env: dict[str, str], tmp_path: Path
) -> None:
    event = _event(local_env, "in/orders.csv", tmp_path)
    ran = run_objstream("invoke", str(event), "--timeout", "30", env=local_env)
    assert ran.code == 0, ran.output
    answer = json.loads(ran.stdout)
    assert answer["status"] == "published"
    assert answer["records"] == 5


def test_an_event_for_a_missing_local_object_is_one_line(local_env: dict[str, str]) -> None:
    ran = run_objstream("event", "in/missing.csv", env=local_env)
    assert ran.code == 1
    assert ran.stderr.startswith("objstream: error: no such local object: ")
