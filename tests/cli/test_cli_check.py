"""`objstream check` against the real broker: each failure mode, in plain words, fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.cli.running import run_objstream

if TYPE_CHECKING:
    from pathlib import Path

    from objstream.testing.brokers import Broker

pytestmark = pytest.mark.broker


def _lines(stdout: str) -> dict[str, str]:
    """'ok    settings: …' → {'ok settings': '…'}."""
    found = {}
    for line in stdout.splitlines():
        head, sep, detail = line.partition(": ")
        if sep:
            found[" ".join(head.split())] = detail
    return found


def test_a_good_configuration_passes_every_check(
    stream_env: dict[str, str], broker: Broker
) -> None:
    ran = run_objstream("check", env=stream_env)
    assert ran.code == 0, ran.output
    lines = _lines(ran.stdout)
    assert set(lines) == {
        "ok settings",
        "ok bootstrap",
        "ok TLS",
        "skip Vault secret",
        "ok SASL",
        "ok topic",
        "skip Object Storage",
    }
    assert "verified against STREAM_SSL_CA_LOCATION=" in lines["ok TLS"]
    assert "(3 partitions)" in lines["ok topic"]
    assert ran.stdout.strip().endswith("all checks passed")
    assert broker.sasl_ssl.password
    assert broker.sasl_ssl.password not in ran.output


def test_a_wrong_password_fails_sasl_quickly_and_is_never_shown(
    stream_env: dict[str, str],
) -> None:
    ran = run_objstream("check", env={**stream_env, "STREAM_AUTH_TOKEN": "wrong-token-5e2a"})
    assert ran.code == 1
    lines = _lines(ran.stdout)
    assert "Authentication failed" in lines["FAIL SASL"]
    assert "STREAM_USERNAME" in lines["FAIL SASL"]
    assert lines["skip topic"] == "skipped: SASL failed"
    assert ran.stdout.strip().endswith("1 check failed: SASL")
    assert "wrong-token-5e2a" not in ran.output
    assert ran.seconds < 8


def test_an_unknown_topic_fails_the_topic_check(stream_env: dict[str, str]) -> None:
    ran = run_objstream("check", env={**stream_env, "STREAM_TOPIC": "no-such-stream"})
    assert ran.code == 1
    lines = _lines(ran.stdout)
    assert "ok SASL" in lines
    assert "'no-such-stream' is not available" in lines["FAIL topic"]


def test_an_untrusted_certificate_fails_tls(stream_env: dict[str, str], broker: Broker) -> None:
    env = {**stream_env, "STREAM_SSL_CA_LOCATION": broker.info.wrong_ca_location}
    ran = run_objstream("check", env=env)
    assert ran.code == 1
    lines = _lines(ran.stdout)
    assert "is not trusted" in lines["FAIL TLS"]
    assert lines["skip SASL"] == "skipped: TLS failed"


def test_a_closed_port_fails_bootstrap_within_seconds(stream_env: dict[str, str]) -> None:
    env = {**stream_env, "STREAM_BOOTSTRAP_SERVERS": "localhost:1"}
    ran = run_objstream("check", env=env)
    assert ran.code == 1
    assert ran.seconds < 8
    assert "Connection refused" in _lines(ran.stdout)["FAIL bootstrap"]


def test_a_separate_dead_letter_topic_is_checked_too(stream_env: dict[str, str]) -> None:
    ran = run_objstream("check", env={**stream_env, "STREAM_DLQ_TOPIC": "no-such-dlq"})
    assert ran.code == 1
    assert "'no-such-dlq' is not available" in _lines(ran.stdout)["FAIL dead-letter topic"]


def test_the_env_file_configures_check(
    stream_env: dict[str, str], base_env: dict[str, str], tmp_path: Path
) -> None:
    env_file = tmp_path / "objstream.env"
    settings = {k: v for k, v in stream_env.items() if k.startswith("STREAM_")}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    ran = run_objstream("check", "--env-file", str(env_file), env=base_env)
    assert ran.code == 0, ran.output
    # ...and a variable in the environment wins over the file.
    ran = run_objstream(
        "check", "--env-file", str(env_file), env={**base_env, "STREAM_TOPIC": "env-topic"}
    )
    assert "'env-topic' is not available" in _lines(ran.stdout)["FAIL topic"]
