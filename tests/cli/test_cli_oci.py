"""`check` and `invoke` with OCI in the loop: a Vault secret, Object Storage.

Vault and Object Storage are the signature-checking stand-in (tests/support/oci_standin.py),
reached by the real `oci` SDK with a `~/.oci/config`-style API key, as on a workstation.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from objstream.testing.oci_standin import OciStandIn
from tests.cli.running import run_objstream

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from objstream.testing.brokers import Broker

pytestmark = pytest.mark.broker

SECRET_ID = "ocid1.vaultsecret.oc1.iad.amaaaaaaclichecktoken"


@pytest.fixture(scope="module")
def standin() -> Iterator[OciStandIn]:
    with OciStandIn() as running:
        yield running


@pytest.fixture
def vault_env(
    stream_env: dict[str, str], standin: OciStandIn, broker: Broker, tmp_path: Path
) -> dict[str, str]:
    """The token in a Vault secret instead of STREAM_AUTH_TOKEN; objects from a local folder."""
    assert broker.sasl_ssl.password is not None
    standin.put_secret(SECRET_ID, broker.sasl_ssl.password)
    env = {k: v for k, v in stream_env.items() if k != "STREAM_AUTH_TOKEN"}
    return {
        **env,
        **standin.function_env(tmp_path / "oci", auth="config_file"),
        "STREAM_AUTH_TOKEN_SECRET_OCID": SECRET_ID,
        "LOCAL_OBJECTS_DIR": str(tmp_path),
    }


def _lines(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        head, sep, detail = line.partition(": ")
        if sep:
            found[" ".join(head.split())] = detail
    return found


def test_the_token_is_read_from_vault_and_logs_in(
    vault_env: dict[str, str], broker: Broker, standin: OciStandIn
) -> None:
    ran = run_objstream("check", env=vault_env)
    assert ran.code == 0, ran.output
    lines = _lines(ran.stdout)
    assert lines["ok Vault secret"] == f"{SECRET_ID} read (OCI_AUTH=config_file)"
    assert "ok SASL" in lines
    assert lines["skip Object Storage"].startswith("not used: objects are read from")
    assert broker.sasl_ssl.password
    assert broker.sasl_ssl.password not in ran.output
    assert standin.rejected == 0, standin.rejections


def test_an_unreadable_secret_fails_and_skips_sasl(vault_env: dict[str, str]) -> None:
    missing = "ocid1.vaultsecret.oc1.iad.amaaaaaanosuchsecret"
    ran = run_objstream("check", env={**vault_env, "STREAM_AUTH_TOKEN_SECRET_OCID": missing})
    assert ran.code == 1
    lines = _lines(ran.stdout)
    assert missing in lines["FAIL Vault secret"]
    assert "404" in lines["FAIL Vault secret"]
    assert lines["skip SASL"] == "skipped: no auth token"


def test_an_unreachable_object_storage_fails_within_seconds(vault_env: dict[str, str]) -> None:
    env = {k: v for k, v in vault_env.items() if k != "LOCAL_OBJECTS_DIR"}
    ran = run_objstream("check", env={**env, "OBJECT_STORAGE_ENDPOINT": "http://127.0.0.1:1"})
    assert ran.code == 1
    assert ran.seconds < 20
    lines = _lines(ran.stdout)
    assert "OBJECT_STORAGE_ENDPOINT" in lines["FAIL Object Storage"]
    assert "ok SASL" in lines


def test_invoke_reads_the_object_from_object_storage_with_the_oci_config(
    vault_env: dict[str, str], standin: OciStandIn, tmp_path: Path
) -> None:
    # OCI_AUTH is not set: `invoke` defaults to the config file (OCI_CONFIG_FILE here).
    env = {k: v for k, v in vault_env.items() if k not in {"LOCAL_OBJECTS_DIR", "OCI_AUTH"}}
    etag = standin.put_object(
        "axaxnpcrorw5", "uploads", "cli/orders.csv", b"id,n\r\n1,a\r\n2,b\r\n"
    )
    event = run_objstream(
        "event", "cli/orders.csv", "--namespace", "axaxnpcrorw5", "--etag", etag, env=env
    )
    ran = run_objstream("invoke", "-", env=env, stdin=event.stdout)
    assert ran.code == 0, ran.output
    answer = json.loads(ran.stdout)
    assert answer["status"] == "published"
    assert answer["records"] == 2
    assert answer["eTag"] == etag
    assert standin.rejected == 0, standin.rejections
