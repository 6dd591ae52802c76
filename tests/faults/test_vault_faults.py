"""OCI Vault failing to give the auth token: missing, forbidden, empty, not text, unavailable.

Each case is a fresh function container (fdk over its socket), since the token is read once
per container. The contract: a 502 whose message names the secret's OCID and what to check,
never its content, and an answer before the Fn deadline even while Vault keeps failing.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pytest

from objstream.testing.oci_standin import Fault, secret_path
from objstream.testing.scenario import function_env
from tests.faults.conftest import CANARY, fdk_function, unique, upload

if TYPE_CHECKING:
    from objstream.testing.brokers import Broker
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import RecordAnswer

pytestmark = pytest.mark.broker

FN_DEADLINE = 6.0


@pytest.fixture(scope="module")
def stream(broker: Broker) -> str:
    return broker.create_topic()


@pytest.mark.parametrize(
    ("content", "faults", "words"),
    [
        pytest.param(None, [], "does not exist or the function may not read it", id="404-missing"),
        pytest.param(
            CANARY,
            [Fault(status=403)],
            "does not exist or the function may not read it",
            id="403-not-permitted",
        ),
        pytest.param("", [], "is empty", id="empty"),
        pytest.param(" \n\t", [], "is empty", id="whitespace-only"),
        pytest.param(b"\xff\xfe" + CANARY.encode(), [], "does not hold text", id="not-text"),
        pytest.param(CANARY, [Fault(status=503)] * 100, "503", id="503-throughout"),
        pytest.param(CANARY, [Fault(delay=60)], "OCI Vault", id="no-answer"),
    ],
)
def test_a_token_vault_cannot_give_answers_502_naming_the_secret_not_its_content(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
    content: str | bytes | None,
    faults: list[Fault],
    words: str,
) -> None:
    work = tmp_path_factory.mktemp("fdk")
    secret = f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
    env = function_env(standin, work / "oci", broker.sasl_ssl, stream, DEADLINE_MARGIN_SECONDS="1")
    env["STREAM_AUTH_TOKEN_SECRET_OCID"] = secret
    if content is not None:
        standin.put_secret(secret, content)
    standin.fail_secret(secret, *faults)
    body = upload(standin, unique("no-token.jsonl"), b'{"a": 1}\n')
    with fdk_function(env, work) as function:
        reply = function.call(body, deadline_in=FN_DEADLINE)
        log = function.log()
    record_answer(reply.seconds, str(reply.status), deadline=FN_DEADLINE, message=reply.body)
    assert reply.status == 502
    message = reply.body.decode()
    assert secret in message
    assert words in message
    assert reply.seconds < FN_DEADLINE
    assert CANARY not in message
    assert CANARY not in log


def test_vault_failing_briefly_is_retried_and_the_object_published(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
) -> None:
    work = tmp_path_factory.mktemp("fdk")
    secret = f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
    env = function_env(standin, work / "oci", broker.sasl_ssl, stream, secret_id=secret)
    standin.fail_secret(secret, Fault(status=503), Fault(status=429, retry_after=1))
    with fdk_function(env, work) as function:
        reply = function.call(upload(standin, unique("token-late.jsonl"), b"{}\n"))
    record_answer(reply.seconds, str(reply.status), deadline=60, message=reply.body)
    assert reply.status == 200, reply.body
    assert json.loads(reply.body)["status"] == "published"
    assert standin.request_count(secret_path(secret)) == 3
