"""The broker refusing the credentials: a wrong or rotated token, a malformed user name.

Against the session broker's SASL_SSL/PLAIN listener (the one configured like OCI Streaming),
with the token in the Vault stand-in as in production. An authentication failure must end
the invocation within seconds (not at the deadline), with a message that names the user name
and what to check, and never the token. A rotated token is re-read from Vault after the
failure and the same invocation succeeds.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import pytest

from function.errors import PublishError
from objstream.testing.oci_standin import secret_path
from objstream.testing.scenario import function_env, read_stream
from tests.faults.conftest import (
    CANARY,
    fdk_function,
    invoke,
    open_fds,
    running_runtime,
    settled_self,
    threads,
    unique,
    upload,
)

if TYPE_CHECKING:
    from pathlib import Path

    from objstream.testing.brokers import Broker
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import RecordAnswer

pytestmark = pytest.mark.broker

POOL = "ocid1.streampool.oc1.phx.amaaaaaafaultspool"


@pytest.fixture(scope="module")
def stream(broker: Broker) -> str:
    return broker.create_topic()


def _new_user(broker: Broker, password: str) -> str:
    user = f"objstreamtenancy/faults-{uuid.uuid4().hex[:8]}@example.com/{POOL}"
    broker.set_password(user, password)
    return user


@pytest.mark.parametrize(
    ("user", "cause"),
    [
        pytest.param(None, "check that it is current", id="wrong-token"),
        pytest.param(
            "objstreamtenancy/faults@example.com",
            "does not end with a stream pool OCID",
            id="user-name-without-pool-ocid",
        ),
        pytest.param(
            f"ocid1.tenancy.oc1..aaaaaaaafaults/faults@example.com/{POOL}",
            "starts with a tenancy OCID",
            id="tenancy-ocid-instead-of-name",
        ),
    ],
)
def test_refused_credentials_answer_502_within_seconds_naming_the_user_and_not_the_token(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
    user: str | None,
    cause: str,
) -> None:
    work = tmp_path_factory.mktemp("fdk")
    secret = f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
    env = function_env(standin, work / "oci", broker.sasl_ssl, stream, secret_id=secret)
    username = user or env["STREAM_USERNAME"]
    env["STREAM_USERNAME"] = username
    standin.put_secret(secret, CANARY)  # a token the broker does not know
    body = upload(standin, unique("refused.jsonl"), b'{"a": 1}\n')
    with fdk_function(env, work) as function:
        reply = function.call(body, deadline_in=60)
        log = function.log()
    record_answer(reply.seconds, str(reply.status), deadline=60, message=reply.body)
    assert reply.status == 502
    message = reply.body.decode()
    assert f"refused SASL authentication for user name {username!r}" in message
    assert cause in message
    assert secret in message  # where the token comes from, by its OCID
    assert reply.seconds < 10
    assert CANARY not in message
    assert CANARY not in log
    assert repr(username) in log


def test_a_rotated_token_is_re_read_from_vault_and_the_same_invocation_publishes(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path: Path,
    record_answer: RecordAnswer,
) -> None:
    old, new = "rotation-old-token-0001", "rotation-new-token-0002"
    user = _new_user(broker, old)
    secret = f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
    env = function_env(
        standin, tmp_path, broker.sasl_ssl, stream, secret_id=secret, STREAM_USERNAME=user
    )
    standin.put_secret(secret, old)
    name = unique("after-rotation.jsonl")
    body = upload(standin, name, b'{"a": 1}\n{"a": 2}\n')
    with running_runtime(env) as runtime:
        assert invoke(runtime, upload(standin, unique("before.jsonl"), b"{}\n")).status == (
            "published"
        )
        # The token is rotated: the broker knows only the new one, Vault holds it. The
        # container's producer is replaced (as after any fatal error) and logs in again with
        # the token it cached.
        broker.set_password(user, new)
        standin.put_secret(secret, new)
        runtime.drop_publisher()
        rotated = invoke(runtime, body, fn_deadline_in=60)
    record_answer(rotated.seconds, rotated.status, deadline=60, message=rotated.error)
    assert rotated.status == "published", rotated.error
    assert standin.request_count(secret_path(secret)) == 2
    assert [m.type for m in read_stream(broker, stream, subject=name)][-1] == (
        "objstream.object.published"
    )
    assert rotated.seconds < 10


def test_a_token_not_yet_rotated_in_vault_fails_once_the_refresh_brings_nothing_new(
    standin: OciStandIn, broker: Broker, stream: str, tmp_path: Path
) -> None:
    user = _new_user(broker, "the-broker-has-this-one")
    secret = f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
    env = function_env(
        standin, tmp_path, broker.sasl_ssl, stream, secret_id=secret, STREAM_USERNAME=user
    )
    standin.put_secret(secret, CANARY)
    with running_runtime(env) as runtime:
        failed = invoke(runtime, upload(standin, unique("stale.jsonl"), b"{}\n"))
    assert isinstance(failed.error, PublishError)
    # Read once for the producer, once more after the refusal: no retry loop.
    assert standin.request_count(secret_path(secret)) == 2
    assert CANARY not in str(failed.error)


def test_repeated_authentication_failures_leave_no_producer_threads_or_sockets_behind(
    standin: OciStandIn, broker: Broker, stream: str, tmp_path: Path
) -> None:
    secret = f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
    env = function_env(standin, tmp_path, broker.sasl_ssl, stream, secret_id=secret)
    standin.put_secret(secret, CANARY)
    body = upload(standin, unique("refused.jsonl"), b"{}\n")
    with running_runtime(env) as runtime:
        assert isinstance(invoke(runtime, body).error, PublishError)
        _, fds_before, threads_before = settled_self()
        for _ in range(5):
            assert isinstance(invoke(runtime, body).error, PublishError)
        # No garbage collection here: a dropped producer must stop at once, not whenever
        # the cycle collector comes by (until then it keeps logging in with a bad token).
        fds_after, threads_after = open_fds(os.getpid()), threads(os.getpid())
    assert threads_after - threads_before <= 2, (threads_before, threads_after)
    assert fds_after - fds_before <= 2, (fds_before, fds_after)
