"""Fixtures for the OCI stand-in: a running server and Settings that point the SDK at it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from function.settings import Settings
from objstream.testing.oci_standin import ApiKey, OciStandIn, make_api_key, write_oci_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def oci_standin() -> Iterator[OciStandIn]:
    """Object Storage + Vault on 127.0.0.1, verifying signatures; closed after the test."""
    with OciStandIn() as standin:
        yield standin


@pytest.fixture(scope="session")
def api_key() -> ApiKey:
    """One throwaway API key for the session (RSA generation takes a while)."""
    return make_api_key()


def standin_settings(standin: OciStandIn, **env: str) -> Settings:
    """Settings whose OCI endpoints are the stand-in; `env` adds or overrides keys."""
    return Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # unused here: no broker in these tests
            "STREAM_TOPIC": "objstream",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            "OBJECT_STORAGE_ENDPOINT": standin.url,
            "VAULT_SECRETS_ENDPOINT": standin.url,
            **env,
        }
    )


@pytest.fixture
def config_file_settings(oci_standin: OciStandIn, api_key: ApiKey, tmp_path: Path) -> Settings:
    """OCI_AUTH=config_file with an ~/.oci/config whose key the stand-in knows."""
    oci_standin.register_api_key(api_key)
    config = write_oci_config(tmp_path / "oci", api_key)
    return standin_settings(oci_standin, OCI_AUTH="config_file", OCI_CONFIG_FILE=str(config))


@pytest.fixture
def resource_principal_settings(
    oci_standin: OciStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """OCI_AUTH=resource_principal with the v2.2 variables OCI Functions would set."""
    for name, value in oci_standin.resource_principal_env(tmp_path / "rp").items():
        monkeypatch.setenv(name, value)
    return standin_settings(oci_standin, OCI_AUTH="resource_principal")


@pytest.fixture(params=["config_file", "resource_principal"])
def oci_settings(request: pytest.FixtureRequest) -> Settings:
    """Each test using it runs once per authentication mode."""
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return settings
