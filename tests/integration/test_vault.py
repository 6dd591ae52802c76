"""VaultToken and token_source against the stand-in's Secrets service (real SDK, real HTTP)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

import pytest

from function.adapters import auth
from function.adapters.auth import OciSigning, StaticToken
from function.adapters.oci_sdk import oci_config_and_signer
from function.adapters.vault import VaultToken
from function.errors import ConfigError, VaultError
from objstream.testing.oci_standin import Fault, OciStandIn, secret_path
from tests.integration.conftest import standin_settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from function.settings import Settings

SECRET = "ocid1.vaultsecret.oc1.iad.amaaaaaastandinstandinstandinstandinstandinstandinsecret"
TOKEN = "q7Zr:x9;Lm2(Vb8<Ke4]"  # auth tokens are 20 characters of punctuation soup


def vault_token(settings: Settings, secret_id: str = SECRET, **options: float) -> VaultToken:
    config, signer = oci_config_and_signer(settings)
    return VaultToken(config, signer, secret_id, endpoint=settings.secrets_endpoint, **options)


@pytest.fixture
def token_source(config_file_settings: Settings) -> Iterator[VaultToken]:
    source = vault_token(config_file_settings, retry_base_sleep=0.02)
    try:
        yield source
    finally:
        source.close()


def test_the_token_is_read_once_and_cached(oci_standin: OciStandIn, oci_settings: Settings) -> None:
    oci_standin.put_secret(SECRET, TOKEN)
    settings = dataclasses.replace(oci_settings, auth_token_secret_ocid=SECRET)
    source = auth.token_source(settings, OciSigning(settings))
    assert isinstance(source, VaultToken)
    try:
        first, second = source.token(), source.token()
    finally:
        source.close()

    assert first == second == TOKEN
    assert oci_standin.request_count(secret_path(SECRET)) == 1
    assert oci_standin.rejected == 0


def test_refresh_reads_the_rotated_token(oci_standin: OciStandIn, token_source: VaultToken) -> None:
    oci_standin.put_secret(SECRET, TOKEN)
    assert token_source.token() == TOKEN
    oci_standin.put_secret(SECRET, "rotated-token-0000000")

    assert token_source.token() == TOKEN
    assert token_source.token(refresh=True) == "rotated-token-0000000"
    assert token_source.token() == "rotated-token-0000000"
    assert oci_standin.request_count(secret_path(SECRET)) == 2


def test_surrounding_whitespace_is_dropped(
    oci_standin: OciStandIn, token_source: VaultToken
) -> None:
    oci_standin.put_secret(SECRET, f"  {TOKEN}\r\n")

    assert token_source.token() == TOKEN


def test_throttling_is_retried(oci_standin: OciStandIn, token_source: VaultToken) -> None:
    oci_standin.put_secret(SECRET, TOKEN)
    oci_standin.fail_secret(SECRET, Fault(status=429, retry_after=0.1), Fault(status=500))

    assert token_source.token() == TOKEN
    assert oci_standin.request_count(secret_path(SECRET)) == 3


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        pytest.param("missing", "404 NotAuthorizedOrNotFound", id="missing-secret"),
        pytest.param("forbidden", "403 NotAuthorized", id="not-permitted"),
        pytest.param("empty", "is empty", id="empty-content"),
        pytest.param("binary", "does not hold text", id="not-text"),
        pytest.param("plain", "not a BASE64 secret bundle", id="not-base64-bundle"),
    ],
)
def test_an_unusable_secret_is_a_config_error_naming_the_ocid(
    oci_standin: OciStandIn, token_source: VaultToken, arrange: str, message: str
) -> None:
    if arrange == "forbidden":
        oci_standin.put_secret(SECRET, TOKEN)
        oci_standin.fail_secret(SECRET, Fault(status=403))
    elif arrange == "empty":
        oci_standin.put_secret(SECRET, "\n")
    elif arrange == "binary":
        oci_standin.put_secret(SECRET, b"\xff\xfeq7Zr\x00")
    elif arrange == "plain":
        oci_standin.put_secret(SECRET, TOKEN, content_type="TEXT")

    with pytest.raises(ConfigError, match=message) as caught:
        token_source.token()

    text = _whole_story(caught.value)
    assert SECRET in str(caught.value)
    assert TOKEN not in text
    assert "q7Zr" not in text
    if arrange in {"missing", "forbidden"}:
        assert "read secret-bundles" in str(caught.value)


def _whole_story(error: BaseException) -> str:
    """Every message and argument in the exception chain, as a traceback would show them."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts.extend([repr(current), str(current), *(repr(arg) for arg in current.args)])
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def test_a_vault_that_keeps_failing_is_a_vault_error_within_the_budget(
    oci_standin: OciStandIn, config_file_settings: Settings
) -> None:
    oci_standin.put_secret(SECRET, TOKEN)
    oci_standin.fail_secret(SECRET, *[Fault(status=503)] * 1000)
    source = vault_token(config_file_settings, budget_seconds=1.5)
    started = time.monotonic()

    try:
        with pytest.raises(VaultError, match="503 ServiceUnavailable") as caught:
            source.token()
    finally:
        source.close()

    assert time.monotonic() - started < 2
    assert SECRET in str(caught.value)


def test_a_failed_refresh_keeps_the_cached_token_and_never_shows_it(
    oci_standin: OciStandIn, token_source: VaultToken
) -> None:
    oci_standin.put_secret(SECRET, TOKEN)
    token_source.token()
    oci_standin.fail_secret(SECRET, Fault(status=400))

    with pytest.raises(ConfigError) as caught:
        token_source.token(refresh=True)

    assert TOKEN not in _whole_story(caught.value)
    assert token_source.token() == TOKEN


def test_the_token_appears_in_no_repr_and_no_log_record(
    oci_standin: OciStandIn, token_source: VaultToken, caplog: pytest.LogCaptureFixture
) -> None:
    oci_standin.put_secret(SECRET, TOKEN)

    with caplog.at_level(logging.DEBUG):
        token_source.token()
        token_source.token(refresh=True)

    assert caplog.records, "the read should be logged"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(vars(record))
    assert TOKEN not in repr(token_source)
    assert SECRET in repr(token_source)


def test_a_static_token_is_served_as_configured_and_never_shown() -> None:
    source = StaticToken(TOKEN)

    assert source.token() == TOKEN
    assert source.token(refresh=True) == TOKEN
    assert TOKEN not in repr(source)


def test_the_settings_choose_the_token_source(oci_standin: OciStandIn) -> None:
    static_settings = standin_settings(
        oci_standin,
        STREAM_SECURITY_PROTOCOL="SASL_SSL",
        STREAM_USERNAME="tenancy/user/ocid1.streampool.oc1..pool",
        STREAM_AUTH_TOKEN=TOKEN,
    )
    static = auth.token_source(static_settings, OciSigning(static_settings))
    assert isinstance(static, StaticToken)

    plain = standin_settings(oci_standin)
    with pytest.raises(ConfigError, match="STREAM_AUTH_TOKEN_SECRET_OCID"):
        auth.token_source(plain, OciSigning(plain))
