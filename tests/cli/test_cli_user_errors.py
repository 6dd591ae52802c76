"""Mistakes a user can make end in one line on stderr and exit code 1 — never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.cli.running import SAMPLES, run_objstream

if TYPE_CHECKING:
    from pathlib import Path

GOOD = {
    "STREAM_BOOTSTRAP_SERVERS": "localhost:1",
    "STREAM_TOPIC": "t",
    "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
}


def _assert_one_error_line(stderr: str, *expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("objstream: error: "), stderr
    for text in expected:
        assert text in lines[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "settings", "expected"),
    [
        pytest.param(
            ["publish", "no/such/file.csv"],
            GOOD,
            ["no such file: no/such/file.csv"],
            id="missing-file",
        ),
        pytest.param(
            ["publish", str(SAMPLES / "orders.csv")],
            {},
            ["STREAM_BOOTSTRAP_SERVERS is required"],
            id="missing-setting",
        ),
        pytest.param(
            ["publish", str(SAMPLES / "orders.csv")],
            {**GOOD, "STREAM_SECURITY_PROTOCOL": "TLS"},
            ["STREAM_SECURITY_PROTOCOL='TLS'", "SASL_SSL"],
            id="bad-setting",
        ),
        pytest.param(
            ["publish", str(SAMPLES / "orders.csv")],
            {**GOOD, "STREAM_SECURITY_PROTOCOL": "SASL_SSL", "STREAM_USERNAME": "u"},
            ["STREAM_AUTH_TOKEN_SECRET_OCID"],
            id="sasl-without-token",
        ),
        pytest.param(
            ["publish", str(SAMPLES / "orders.csv")],
            {**GOOD, "KAFKA_SASL_PASSWORD": "x"},
            ["sasl.password cannot be set with KAFKA_*"],
            id="reserved-kafka-property",
        ),
        pytest.param(
            ["invoke", "no-event.json"], GOOD, ["no such event file"], id="invoke-no-event"
        ),
        pytest.param(["tail"], {}, ["STREAM_BOOTSTRAP_SERVERS is required"], id="tail-no-settings"),
        pytest.param(
            ["serve"], {"STREAM_TOPIC": "t"}, ["STREAM_BOOTSTRAP_SERVERS"], id="serve-no-settings"
        ),
    ],
)
def test_a_user_error_is_one_line_and_exit_1(
    base_env: dict[str, str], args: list[str], settings: dict[str, str], expected: list[str]
) -> None:
    ran = run_objstream(*args, env={**base_env, **settings})
    assert ran.code == 1
    _assert_one_error_line(ran.stderr, *expected)


def test_call_without_a_server_says_to_start_one(base_env: dict[str, str], tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    ran = run_objstream("call", str(event), "--socket", str(tmp_path / "none.sock"), env=base_env)
    assert ran.code == 1
    _assert_one_error_line(ran.stderr, "nothing listens on", "objstream serve")


def test_a_missing_env_file_is_one_line(base_env: dict[str, str], tmp_path: Path) -> None:
    ran = run_objstream("check", "--env-file", str(tmp_path / "nope.env"), env=base_env)
    assert ran.code == 1
    _assert_one_error_line(ran.stderr, "cannot read the env file", "nope.env")


def test_a_malformed_env_file_names_the_line(base_env: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("# settings\nSTREAM_TOPIC=t\nthis is not a setting\n")
    ran = run_objstream("--env-file", str(env_file), "check", env=base_env)
    assert ran.code == 1
    _assert_one_error_line(ran.stderr, "bad.env:3: expected KEY=VALUE")


def test_debug_shows_the_traceback(base_env: dict[str, str]) -> None:
    ran = run_objstream("publish", "--debug", "no/such/file.csv", env={**base_env, **GOOD})
    assert ran.code == 1
    assert "Traceback" in ran.stderr
    assert "CliError: no such file" in ran.stderr


def test_bad_usage_is_argparse_exit_2(base_env: dict[str, str]) -> None:
    ran = run_objstream("publish", env=base_env)
    assert ran.code == 2
    assert "the following arguments are required: FILE" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_help_lists_every_command(base_env: dict[str, str]) -> None:
    ran = run_objstream("--help", env=base_env)
    assert ran.code == 0
    for command in ("publish", "invoke", "serve", "call", "event", "tail", "check"):
        assert command in ran.stdout


def test_check_reports_a_missing_setting_as_a_failed_check(base_env: dict[str, str]) -> None:
    ran = run_objstream("check", env={**base_env, "STREAM_BOOTSTRAP_SERVERS": "localhost:9092"})
    assert ran.code == 1
    assert ran.stdout.splitlines()[0] == "FAIL  settings: STREAM_TOPIC is required but not set"
    assert "Traceback" not in ran.output


def test_check_fails_fast_on_an_unreachable_bootstrap(base_env: dict[str, str]) -> None:
    settings = {**GOOD, "STREAM_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    ran = run_objstream("check", env={**base_env, **settings})
    assert ran.code == 1
    assert ran.seconds < 10
    lines = dict(line.split(": ", 1) for line in ran.stdout.splitlines() if ": " in line)
    assert lines["FAIL  bootstrap"].startswith("cannot connect to 127.0.0.1:1: Connection refused")
    assert lines["skip  broker"] == "skipped: the bootstrap servers are unreachable"
    assert lines["skip  topic"] == "skipped: the bootstrap servers are unreachable"
