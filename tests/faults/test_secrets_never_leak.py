"""The auth token never leaks: not in a log line, an exception, a response body or a repr.

Every failure path of the other fault tests runs here once more with a recognisable token
(`CANARY`), in this process (logs captured at DEBUG for every logger, exceptions walked
through their causes and contexts, reprs of everything the runtime holds) and through fdk
(its whole log, librdkafka's debug output included, and every response body).
"""

from __future__ import annotations

import json
import logging
import socket
import traceback
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from objstream.testing.oci_standin import Fault
from objstream.testing.scenario import function_env
from tests.faults.conftest import (
    CANARY,
    NAMESPACE,
    fdk_function,
    invoke,
    running_runtime,
    unique,
    upload,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from function.runtime import Runtime
    from objstream.testing.brokers import Broker
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import Attempt

pytestmark = pytest.mark.broker

BUCKET = "uploads"
POOL = "ocid1.streampool.oc1.phx.amaaaaaafaultspool"


@pytest.fixture(scope="module")
def stream(broker: Broker) -> str:
    return broker.create_topic()


@pytest.fixture(scope="module")
def canary_user(broker: Broker) -> str:
    """A broker user whose password is the canary: paths where the token is right."""
    user = f"objstreamtenancy/canary-{uuid.uuid4().hex[:8]}@example.com/{POOL}"
    broker.set_password(user, CANARY)
    return user


@dataclass
class World:
    """What a scenario arranges its fault in."""

    standin: OciStandIn
    broker: Broker
    stream: str
    canary_user: str
    workdir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The function's configuration with the canary as the token in Vault."""
        secret = f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
        env = function_env(
            self.standin,
            self.workdir,
            self.broker.sasl_ssl,
            self.stream,
            secret_id=secret,
            DEADLINE_MARGIN_SECONDS="1",
        )
        self.standin.put_secret(secret, CANARY)
        env.update(extra)
        return env

    def secret(self, env: dict[str, str]) -> str:
        """The Vault secret `env` reads the token from."""
        return env["STREAM_AUTH_TOKEN_SECRET_OCID"]

    def body(self, name: str = "leak.jsonl") -> bytes:
        """A fresh object's create event."""
        return upload(self.standin, unique(name), b'{"a": 1}\n')


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wrong_token(world: World) -> tuple[dict[str, str], bytes]:
    return world.env(), world.body()


def _wrong_static_token(world: World) -> tuple[dict[str, str], bytes]:
    env = world.env()
    del env["STREAM_AUTH_TOKEN_SECRET_OCID"]
    env["STREAM_AUTH_TOKEN"] = CANARY
    return env, world.body()


def _malformed_user(world: World) -> tuple[dict[str, str], bytes]:
    return world.env(STREAM_USERNAME="objstreamtenancy/no-pool@example.com"), world.body()


def _vault(*faults: Fault) -> Callable[[World], tuple[dict[str, str], bytes]]:
    def arrange(world: World) -> tuple[dict[str, str], bytes]:
        env = world.env()
        world.standin.fail_secret(world.secret(env), *faults)
        return env, world.body()

    return arrange


def _vault_content(
    value: bytes, content_type: str
) -> Callable[[World], tuple[dict[str, str], bytes]]:
    def arrange(world: World) -> tuple[dict[str, str], bytes]:
        env = world.env()
        world.standin.put_secret(world.secret(env), value, content_type=content_type)
        return env, world.body()

    return arrange


def _unreachable(world: World) -> tuple[dict[str, str], bytes]:
    return world.env(STREAM_BOOTSTRAP_SERVERS=f"localhost:{_closed_port()}"), world.body()


def _untrusted(world: World) -> tuple[dict[str, str], bytes]:
    return world.env(STREAM_SSL_CA_LOCATION=world.broker.info.wrong_ca_location), world.body()


def _right_token(**extra: str) -> Callable[[World], tuple[dict[str, str], bytes]]:
    def arrange(world: World) -> tuple[dict[str, str], bytes]:
        return world.env(STREAM_USERNAME=world.canary_user, **extra), world.body()

    return arrange


def _object_storage(*faults: Fault) -> Callable[[World], tuple[dict[str, str], bytes]]:
    def arrange(world: World) -> tuple[dict[str, str], bytes]:
        env = world.env(STREAM_USERNAME=world.canary_user)
        name = unique("failing.jsonl")
        body = upload(world.standin, name, b'{"a": 1}\n')
        world.standin.fail_object(NAMESPACE, BUCKET, name, *faults)
        return env, body

    return arrange


SCENARIOS = [
    pytest.param(_wrong_token, 20, id="wrong-token-from-vault"),
    pytest.param(_wrong_static_token, 20, id="wrong-token-from-STREAM_AUTH_TOKEN"),
    pytest.param(_malformed_user, 20, id="user-name-without-pool-ocid"),
    pytest.param(_vault(Fault(status=403)), 20, id="vault-403"),
    pytest.param(_vault(*[Fault(status=503)] * 100), 3, id="vault-503-throughout"),
    pytest.param(_vault_content(b"\xff" + CANARY.encode(), "BASE64"), 20, id="vault-not-text"),
    pytest.param(_vault_content(CANARY.encode(), "TEXT"), 20, id="vault-not-base64-bundle"),
    pytest.param(_unreachable, 3, id="broker-unreachable"),
    pytest.param(_untrusted, 3, id="tls-wrong-ca"),
    pytest.param(_object_storage(Fault(status=403)), 20, id="object-storage-403"),
    pytest.param(_object_storage(*[Fault(status=503)] * 100), 3, id="object-storage-503"),
    pytest.param(_object_storage(Fault(drop_after=3, stall=30)), 3, id="object-storage-stall"),
    pytest.param(_right_token(), 1.02, id="deadline-before-anything"),
    pytest.param(
        _right_token(KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION="maybe"), 20, id="bad-kafka-property"
    ),
    pytest.param(_right_token(), 20, id="published"),
]


def _everything_said(attempt: Attempt, runtime: Runtime) -> str:
    """Every text the invocation produced or the runtime would show, joined."""
    parts = [repr(runtime), repr(runtime.settings), repr(runtime._tokens)]
    if runtime._publisher is not None:
        parts += [repr(runtime._publisher), repr(vars(runtime._publisher))]
    if attempt.outcome is not None:
        parts += [attempt.outcome.to_json().decode(), repr(attempt.outcome)]
    error: BaseException | None = attempt.error
    if error is not None:
        parts += traceback.format_exception(error)
    while error is not None:
        parts += [str(error), repr(error), *(repr(arg) for arg in error.args)]
        error = error.__cause__ or error.__context__
    return "\n".join(parts)


@pytest.mark.parametrize(("arrange", "fn_deadline"), SCENARIOS)
def test_the_token_appears_in_no_log_record_error_outcome_or_repr(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    canary_user: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    arrange: Callable[[World], tuple[dict[str, str], bytes]],
    fn_deadline: float,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: objstream's, librdkafka's, oci's, urllib3's
    env, body = arrange(World(standin, broker, stream, canary_user, tmp_path))
    with running_runtime(env) as runtime:
        attempt = invoke(runtime, body, fn_deadline_in=fn_deadline)
        said = _everything_said(attempt, runtime)
    assert attempt.answered_in_time
    assert CANARY not in said
    assert CANARY not in caplog.text
    for record in caplog.records:
        assert CANARY not in json.dumps(record.__dict__, default=repr), record.getMessage()
    assert caplog.records  # the path was logged at all


def test_the_token_appears_in_no_fdk_log_line_or_response_body_even_with_librdkafka_debug(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    canary_user: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    world = World(standin, broker, stream, canary_user, tmp_path_factory.mktemp("oci"))
    bodies: list[bytes] = []
    logs: list[str] = []
    runs: list[tuple[dict[str, str], list[tuple[bytes, float]]]] = []
    # The token is right: publish, Object Storage refusing, a bad body, the deadline.
    good = world.env(STREAM_USERNAME=canary_user, KAFKA_DEBUG="all")
    refused = unique("refused.jsonl")
    refused_body = upload(standin, refused, b"{}\n")
    standin.fail_object(NAMESPACE, BUCKET, refused, Fault(status=403))
    runs.append(
        (
            good,
            [(world.body(), 20), (refused_body, 20), (b"{not json", 20), (world.body(), 1.02)],
        )
    )
    # The token is refused; then Vault refuses the re-read that follows the refusal.
    wrong = world.env(KAFKA_DEBUG="security,broker")
    runs.append((wrong, [(world.body(), 20), (world.body(), 20)]))
    # Unreachable and untrusted brokers.
    runs.append(
        (world.env(STREAM_BOOTSTRAP_SERVERS=f"localhost:{_closed_port()}"), [(world.body(), 3)])
    )
    runs.append(
        (world.env(STREAM_SSL_CA_LOCATION=broker.info.wrong_ca_location), [(world.body(), 3)])
    )
    for number, (env, calls) in enumerate(runs):
        work = tmp_path_factory.mktemp(f"fdk{number}")
        with fdk_function(env, work) as function:
            for index, (body, deadline) in enumerate(calls):
                if env is wrong and index == 1:
                    standin.fail_secret(world.secret(wrong), Fault(status=403))
                bodies.append(function.call(body, deadline_in=deadline).body)
            logs.append(function.log())
    assert all(CANARY.encode() not in body for body in bodies), bodies
    for log in logs:
        assert CANARY not in log
    # The paths really ran: a publication, librdkafka's debug lines, the refusals.
    assert any(b'"published"' in body for body in bodies)
    assert any(b"refused SASL authentication" in body for body in bodies)
    assert any(b"does not exist or the function may not read it" in body for body in bodies)
    assert any("SASL" in log and "kafka_client.librdkafka" in log for log in logs)
