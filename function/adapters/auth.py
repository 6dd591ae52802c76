"""How the function proves who it is: to OCI (one signer per container) and to the stream.

- `OciSigning`: the config and signer every OCI client of the container shares, as OCI_AUTH
  says, made on first use (the oci SDK is imported only then: a container that never talks
  to OCI never pays for it);
- `token_source(settings, signing)`: the SASL password, STREAM_AUTH_TOKEN for local
  development (`StaticToken`) or the OCI Vault secret STREAM_AUTH_TOKEN_SECRET_OCID
  (`VaultToken`, read with `signing`). The runtime and the workstation kit both get it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from function.errors import ConfigError

if TYPE_CHECKING:
    from function.core.deadline import Deadline
    from function.ports import TokenSource
    from function.settings import Settings


class OciSigning:
    """`(config, signer)` for OCI clients, made once, on the first call."""

    __slots__ = ("_made", "_settings")

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._made: tuple[dict[str, Any], Any] | None = None

    def __call__(self) -> tuple[dict[str, Any], Any]:
        """The config dict and the signer (resource principal, instance principal or a file)."""
        if self._made is None:
            from function.adapters.oci_sdk import oci_config_and_signer

            self._made = oci_config_and_signer(self._settings)
        return self._made


def token_source(settings: Settings, signing: OciSigning) -> TokenSource:
    """The token source the settings ask for: STREAM_AUTH_TOKEN, else the Vault secret."""
    if settings.auth_token is not None:
        return StaticToken(settings.auth_token)
    if settings.auth_token_secret_ocid:
        from function.adapters.vault import VaultToken

        return VaultToken(
            *signing(),
            settings.auth_token_secret_ocid,
            endpoint=settings.secrets_endpoint,
        )
    raise ConfigError(
        "no auth token configured: set STREAM_AUTH_TOKEN_SECRET_OCID "
        "(or, for local development, STREAM_AUTH_TOKEN)"
    )


class StaticToken:
    """A token fixed by configuration (STREAM_AUTH_TOKEN): refreshing changes nothing."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value.strip():
            raise ConfigError("STREAM_AUTH_TOKEN is empty")
        self._value = value.strip()

    def token(self, *, refresh: bool = False, deadline: Deadline | None = None) -> str:
        """The configured token."""
        del refresh, deadline  # nothing to re-read
        return self._value

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"
