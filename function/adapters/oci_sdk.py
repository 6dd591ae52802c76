"""How objstream talks to the OCI SDK: the signer for `OCI_AUTH`, and deadline-bound retries.

`oci_config_and_signer` is called once per container (the caller caches the pair): a resource
principal signer reads its session token and key from the environment OCI Functions sets, an
instance principal signer asks the instance metadata service, and `config_file` reads an
`~/.oci/config` profile for local development. Every failure becomes a ConfigError that says
what to check.

`DeadlineRetryStrategy` replaces the SDK's default retry strategy (up to 8 attempts over 600 s,
60 s read timeouts), which would outlive any function invocation: it retries the same
failures (429, 5xx, timeouts, dropped connections) but never sleeps or waits past the
invocation's deadline, and it sets each attempt's timeouts from the time left.
"""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import oci

from function.errors import ConfigError, DeadlineExceeded
from function.settings import OciAuth, Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from function.core.deadline import Deadline

logger = logging.getLogger(__name__)

# The SDK's config dict and its signer (a requests auth callable) are untyped.
OciConfig = dict[str, Any]
OciSigner = Any

_RP_VERSION = "OCI_RESOURCE_PRINCIPAL_VERSION"


def oci_config_and_signer(settings: Settings) -> tuple[OciConfig, OciSigner]:
    """The config dict and signer every OCI client of this container is built with."""
    if settings.oci_auth is OciAuth.RESOURCE_PRINCIPAL:
        config, signer = _resource_principal()
    elif settings.oci_auth is OciAuth.INSTANCE_PRINCIPAL:
        config, signer = _instance_principal()
    else:
        config, signer = _config_file(settings.oci_config_file, settings.oci_config_profile)
    logger.info(
        "OCI authentication ready",
        extra={"oci_auth": settings.oci_auth.value, "region": config.get("region")},
    )
    return config, signer


def _resource_principal() -> tuple[OciConfig, OciSigner]:
    version = os.environ.get(_RP_VERSION)
    if not version:
        raise ConfigError(
            f"OCI_AUTH=resource_principal but {_RP_VERSION} is not set: is this running in "
            "OCI Functions? For local development set OCI_AUTH=config_file"
        )
    try:
        signer = oci.auth.signers.get_resource_principals_signer()
    except Exception as exc:
        # The SDK raises EnvironmentError for an unsupported version, OSError for unreadable
        # files, ValueError for a missing token or key, PyJWT's errors for a malformed token.
        raise ConfigError(
            f"OCI_AUTH=resource_principal ({_RP_VERSION}={version}) could not load the "
            f"resource principal session token and key: {_describe(exc)}. Check the "
            "OCI_RESOURCE_PRINCIPAL_* variables OCI Functions sets"
        ) from exc
    region = getattr(signer, "region", None)
    if not region:
        raise ConfigError(
            "OCI_AUTH=resource_principal but OCI_RESOURCE_PRINCIPAL_REGION is not set, so the "
            "service endpoints are unknown"
        )
    return {"region": region}, signer


def _instance_principal() -> tuple[OciConfig, OciSigner]:
    try:
        signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner()
    except Exception as exc:  # the signer raises whatever its HTTP calls to the IMDS raise
        raise ConfigError(
            "OCI_AUTH=instance_principal could not get a token from the instance metadata "
            f"service: {_describe(exc)}. Is this running on an OCI compute instance whose "
            "dynamic group has the needed policies?"
        ) from exc
    return {"region": signer.region}, signer


def _config_file(location: str, profile: str) -> tuple[OciConfig, OciSigner]:
    path = Path(location).expanduser()
    where = f"OCI_CONFIG_FILE={location} (profile OCI_CONFIG_PROFILE={profile})"
    if not path.is_file():
        raise ConfigError(
            f"OCI_AUTH=config_file but {where} does not exist; create it with `oci setup config`"
        )
    try:
        config: OciConfig = oci.config.from_file(str(path), profile)
        if config.get("security_token_file"):
            signer = _session_token_signer(config)
        else:
            oci.config.validate_config(config)
            signer = oci.signer.Signer.from_config(config)
    except (OSError, ValueError, oci.exceptions.ClientError) as exc:
        # InvalidConfig (a ValueError) lists the missing or malformed keys; the key file's
        # errors say whether it is missing, encrypted or not a private key.
        raise ConfigError(f"OCI_AUTH=config_file: {where} is not usable: {_describe(exc)}") from exc
    if not config.get("region"):
        raise ConfigError(f"OCI_AUTH=config_file: {where} has no region")
    return config, signer


def _session_token_signer(config: OciConfig) -> OciSigner:
    """A profile made by `oci session authenticate`: a security token instead of an API key."""
    token = Path(config["security_token_file"]).expanduser().read_text(encoding="ascii").strip()
    private_key = oci.signer.load_private_key_from_file(
        config["key_file"], config.get("pass_phrase")
    )
    return oci.auth.signers.SecurityTokenSigner(token, private_key)


def _describe(exc: BaseException) -> str:
    """The exception in one line (a ServiceError's str is a dict of troubleshooting tips)."""
    if isinstance(exc, oci.exceptions.ServiceError):
        return f"{exc.status} {exc.code}: {exc.message}"
    detail = str(exc.args[0]) if exc.args else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


# Object Storage and Vault reads are idempotent GETs: throttling, server errors and network
# failures are worth another attempt; 4xx answers other than 429 will not change.
# What the SDK raises when no HTTP answer came back at all (after its own wrapping).
UNREACHABLE: tuple[type[BaseException], ...] = (
    oci.exceptions.RequestException,
    oci.exceptions.ConnectTimeout,
    OSError,
)


def build_client(
    client_class: Any,
    config: Mapping[str, Any],
    signer: Any,
    *,
    endpoint: str | None,
    endpoint_key: str,
    service: str,
) -> Any:
    """An OCI SDK client signed by `signer`, at `endpoint` when one is configured.

    Without the SDK's default circuit breaker: it is process-wide, so one object's burst of
    503s would fail the next invocations too; each invocation's deadline bounds retries.
    """
    options: dict[str, Any] = {
        "signer": signer,
        "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
    }
    if endpoint:
        options["service_endpoint"] = endpoint
    try:
        return client_class(dict(config), **options)
    except (ValueError, oci.exceptions.ClientError) as exc:
        where = f"{endpoint_key}={endpoint}" if endpoint else "the OCI config"
        raise ConfigError(f"cannot build the {service} client from {where}: {exc}") from exc


_RETRYABLE_STATUSES: dict[int, list[str]] = {429: []}


class DeadlineRetryStrategy(oci.retry.ExponentialBackoffWithFullJitterRetryStrategy):  # type: ignore[misc]  # oci is untyped: its classes are Any
    """The SDK's exponential backoff with full jitter, bounded by an invocation's deadline.

    Pass it as `retry_strategy=` to one SDK call. Before each attempt it sets the client's
    connect and read timeouts to at most the time left; it retries only while at least
    `reserve` seconds would remain for the next attempt (honouring a `retry-after` header)
    and never sleeps past that point. Not shareable between threads: it sets the timeouts
    of the client it was made for, and OCI Functions runs one invocation per container at
    a time.
    """

    def __init__(
        self,
        deadline: Deadline,
        base_client: Any,
        *,
        max_attempts: int = 8,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        reserve: float = 0.25,
        base_sleep: float = 0.25,
        max_sleep: float = 8.0,
    ) -> None:
        checkers = oci.retry.retry_checkers.RetryCheckerContainer(
            checkers=[
                oci.retry.retry_checkers.LimitBasedRetryChecker(max_attempts=max_attempts),
                oci.retry.retry_checkers.TimeoutConnectionAndServiceErrorRetryChecker(
                    service_error_retry_config=_RETRYABLE_STATUSES, retry_any_5xx=True
                ),
                _DeadlineRetryChecker(deadline, reserve),
            ]
        )
        super().__init__(
            base_sleep_time_seconds=base_sleep,
            exponent_growth_factor=2,
            max_wait_between_calls_seconds=max_sleep,
            checker_container=checkers,
        )
        self._deadline = deadline
        self._base_client = base_client
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._reserve = reserve
        self.attempts = 0

    def make_retrying_call(
        self, func_ref: Callable[..., Any], *func_args: Any, **func_kwargs: Any
    ) -> Any:
        """Call `func_ref` (the SDK's `call_api`) with retries, each attempt's timeouts bounded."""

        def attempt(*args: Any, **kwargs: Any) -> Any:
            remaining = self._deadline.remaining()
            if remaining <= 0:
                # Not a retryable error type, so the SDK's retry loop lets it through.
                raise DeadlineExceeded("the invocation's deadline was reached before a request")
            self.attempts += 1
            self._base_client.timeout = (
                min(self._connect_timeout, remaining),
                min(self._read_timeout, remaining),
            )
            return func_ref(*args, **kwargs)

        return super().make_retrying_call(attempt, *func_args, **func_kwargs)

    def do_sleep(self, attempt: int, exception: BaseException) -> None:
        """Back off with full jitter, at least `retry-after`, never into the reserve."""
        backoff = random.uniform(  # noqa: S311 - jitter, not cryptography
            0, min(self.base_sleep_time_seconds * 2**attempt, self.max_wait_between_calls_seconds)
        )
        wait = max(backoff, retry_after_seconds(exception))
        time.sleep(max(0.0, min(wait, self._deadline.remaining() - self._reserve)))


class _DeadlineRetryChecker(oci.retry.retry_checkers.BaseRetryChecker):  # type: ignore[misc]  # oci is untyped: its classes are Any
    """Allows another attempt only if it can start (after any retry-after) before the reserve."""

    def __init__(self, deadline: Deadline, reserve: float) -> None:
        super().__init__()
        self._deadline = deadline
        self._reserve = reserve

    def should_retry(
        self, exception: BaseException | None = None, response: Any = None, **kwargs: Any
    ) -> bool:
        del response, kwargs  # the SDK's checker interface; only the time left matters here
        return self._deadline.remaining() - self._reserve > retry_after_seconds(exception)


def retry_after_seconds(exception: BaseException | None) -> float:
    """The `retry-after` seconds a throttled or unavailable service asked for, else 0."""
    headers = getattr(exception, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after", 0)))
    except (TypeError, ValueError):
        return 0.0  # an HTTP-date form; the backoff applies instead
