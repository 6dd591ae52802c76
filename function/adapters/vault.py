"""Where the stream's SASL password (an OCI auth token) comes from: OCI Vault or the environment.

`VaultToken` (behind the `TokenSource` port, function.ports) reads the secret bundle of
STREAM_AUTH_TOKEN_SECRET_OCID once per container and keeps it; `token(refresh=True)` reads
it again, which the publisher does after the broker refused the credentials (the token was
rotated).

The token never appears in a repr, a log record or an exception message; errors name the
secret's OCID and what to check instead.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import oci

from function.adapters.oci_sdk import UNREACHABLE, DeadlineRetryStrategy, build_client
from function.core.deadline import Deadline
from function.errors import ConfigError, DeadlineExceeded, VaultError

if TYPE_CHECKING:
    from collections.abc import Mapping


logger = logging.getLogger(__name__)

# No answer in time: the network failed, or the invocation's deadline came first.
_GAVE_UP: tuple[type[BaseException], ...] = (DeadlineExceeded, *UNREACHABLE)
_POLICY_HINT = (
    "check STREAM_AUTH_TOKEN_SECRET_OCID and that a policy lets the function read it, e.g. "
    "`allow dynamic-group <functions> to read secret-bundles in compartment <secret's>`"
)


class VaultToken:
    """The auth token kept in an OCI Vault secret, read once and cached for the container."""

    def __init__(
        self,
        config: Mapping[str, Any],
        signer: Any,
        secret_id: str,
        *,
        endpoint: str | None = None,
        budget_seconds: float = 10.0,
        retry_base_sleep: float = 0.25,
    ) -> None:
        self._client = build_client(
            oci.secrets.SecretsClient,
            config,
            signer,
            endpoint=endpoint,
            endpoint_key="VAULT_SECRETS_ENDPOINT",
            service="Vault secrets",
        )
        self._secret_id = secret_id
        self._budget_seconds = budget_seconds
        self._retry_base_sleep = retry_base_sleep
        self._cached: str | None = None
        # The publisher's delivery callbacks may ask from another thread.
        self._lock = threading.Lock()

    @property
    def secret_id(self) -> str:
        """The OCID of the secret the token is read from."""
        return self._secret_id

    def token(self, *, refresh: bool = False, deadline: Deadline | None = None) -> str:
        """The cached token, read from Vault the first time and whenever `refresh` is set.

        A read takes at most `budget_seconds`, and never goes past `deadline`.
        """
        with self._lock:
            if self._cached is None or refresh:
                self._cached = self._read(deadline)
            return self._cached

    def _read(self, invocation: Deadline | None) -> str:
        deadline = Deadline.in_seconds(self._budget_seconds)
        if invocation is not None and invocation.at < deadline.at:
            # Retrying Vault past the invocation's deadline would get the function killed
            # by the platform before it answers.
            deadline = invocation
        started = time.monotonic()
        strategy = DeadlineRetryStrategy(
            deadline,
            self._client.base_client,
            connect_timeout=3.0,
            read_timeout=5.0,
            base_sleep=self._retry_base_sleep,
        )
        try:
            response = self._client.get_secret_bundle(self._secret_id, retry_strategy=strategy)
        except oci.exceptions.ServiceError as exc:
            raise self._service_error(exc, strategy.attempts) from exc
        except _GAVE_UP as exc:
            raise VaultError(
                f"could not read the secret {self._secret_id} from OCI Vault at "
                f"{self._client.base_client.endpoint}: {type(exc).__name__} after "
                f"{strategy.attempts} attempts in {time.monotonic() - started:.1f}s; check "
                "VAULT_SECRETS_ENDPOINT and the function's network path (service gateway or NAT)"
            ) from exc
        token = self._token_from(response.data)
        logger.info(
            "auth token read from OCI Vault",
            extra={
                "secret_ocid": self._secret_id,
                "secret_version": getattr(response.data, "version_number", None),
                "opc_request_id": response.headers.get("opc-request-id"),
            },
        )
        return token

    def _token_from(self, bundle: Any) -> str:
        content: Any = getattr(bundle, "secret_bundle_content", None)
        content_type = getattr(content, "content_type", None)
        if content_type != "BASE64":
            raise ConfigError(
                f"the secret {self._secret_id} is not a BASE64 secret bundle (content type "
                f"{content_type!r}); store the auth token as the secret's plain-text content"
            )
        text = _decoded_text(content.content)
        if text is None:
            raise ConfigError(
                f"the secret {self._secret_id} does not hold text: its content is not UTF-8; "
                "store the auth token itself as the secret's content"
            )
        token = text.strip()
        if not token:
            raise ConfigError(
                f"the secret {self._secret_id} is empty; store the auth token as its content"
            )
        return token

    def _service_error(self, exc: Any, attempts: int) -> Exception:
        answer = f"{exc.status} {exc.code}, opc-request-id {exc.request_id}"
        if exc.status in {HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
            return ConfigError(
                f"OCI Vault did not return the secret {self._secret_id} ({answer}): it does "
                f"not exist or the function may not read it; {_POLICY_HINT}"
            )
        if exc.status == HTTPStatus.BAD_REQUEST:
            return ConfigError(
                f"OCI Vault rejected the secret id {self._secret_id} ({answer}); "
                "STREAM_AUTH_TOKEN_SECRET_OCID must be a secret OCID (ocid1.vaultsecret…)"
            )
        return VaultError(
            f"OCI Vault failed to return the secret {self._secret_id} ({answer}) after "
            f"{attempts} attempts"
        )

    def close(self) -> None:
        """Close the client's pooled connections."""
        self._client.base_client.session.close()

    def __repr__(self) -> str:
        return f"VaultToken(secret_id={self._secret_id!r}, cached={self._cached is not None})"


def _decoded_text(encoded: str | None) -> str | None:
    """The secret's text, or None if it is not base64 of UTF-8.

    Returning instead of raising keeps the decoding error, whose arguments hold the secret's
    bytes, out of the ConfigError's context (`from None` only hides it from tracebacks).
    """
    try:
        return base64.b64decode(encoded or "", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
