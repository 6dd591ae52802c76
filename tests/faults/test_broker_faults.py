"""The broker failing: unreachable, stopped, killed mid-file, frozen, restarted.

These tests own their broker (a JVM Kafka in a temporary folder, started once for the module)
so they can stop, kill, freeze and restart it; the session's broker is never touched. The
function talks to it over SASL_SSL/PLAIN with the token from the Vault stand-in, as in OCI.

What every failure must look like (CONTRACT.md §3): the invocation fails (502 through fdk,
a TransientError in-process) before its Fn deadline, no terminal marker is written for the
incomplete attempt, and the retry publishes the whole object with the same record ids.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from typing import TYPE_CHECKING, Any

import pytest

from function.core.events import parse_event
from function.core.messages import ObjectMessages
from function.errors import TransientError
from kafka_client.publisher import StreamPublisher
from objstream.testing.brokers import Broker
from objstream.testing.jvm_kafka import KafkaBroker
from objstream.testing.scenario import Seen, function_env, read_stream
from tests.faults.conftest import (
    Attempt,
    fdk_function,
    invoke,
    running_runtime,
    unique,
    upload,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from kafka_client.types import Headers
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import RecordAnswer

pytestmark = pytest.mark.broker

RECORD = "objstream.record"
PUBLISHED = "objstream.object.published"


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker these tests may stop, kill, freeze and restart (never the session's)."""
    process = KafkaBroker(tmp_path_factory.mktemp("own-broker"))
    info = process.start()
    try:
        yield Broker("jvm", info, process=process)
    finally:
        _thaw(process)
        process.stop()


@pytest.fixture
def broker_up(own_broker: Broker) -> Iterator[Broker]:
    """The own broker, running and answering, before and after the test."""
    _ensure_running(own_broker)
    yield own_broker
    _ensure_running(own_broker)


def _ensure_running(broker: Broker) -> None:
    process = broker.process
    assert process is not None
    _thaw(process)
    if process.process is None or process.process.poll() is not None:
        process.process = None
        process.start()


def _thaw(process: KafkaBroker) -> None:
    if process.process is not None and process.process.poll() is None:
        os.kill(process.process.pid, signal.SIGCONT)


def _env(
    standin: OciStandIn, broker: Broker, topic: str, workdir: Path, **extra: str
) -> dict[str, str]:
    env = function_env(standin, workdir, broker.sasl_ssl, topic)
    env.update(extra)
    return env


def _lines(count: int) -> bytes:
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * 40) for i in range(count))


class _FaultAfter(StreamPublisher):
    """A real publisher that calls `fault` right after its `after`-th message was queued."""

    def __init__(
        self, config: Mapping[str, str | bool], *, after: int, fault: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._after = after
        self._fault = fault
        self._queued = 0

    def send(self, topic: str, value: bytes | None, key: bytes | None, headers: Headers) -> None:
        super().send(topic, value, key, headers)
        self._queued += 1
        if self._queued == self._after:
            self._fault()


def _fault_after(after: int, fault: Callable[[], None]) -> Callable[[Any], StreamPublisher]:
    def factory(config: Mapping[str, str | bool]) -> StreamPublisher:
        return _FaultAfter(config, after=after, fault=fault)

    return factory


def _attempts(messages: list[Seen]) -> list[list[Seen]]:
    """The messages of one object split per attempt (each attempt starts with the event)."""
    attempts: list[list[Seen]] = []
    for message in messages:
        if message.type.startswith("com.oraclecloud."):
            attempts.append([])
        attempts[-1].append(message)
    return attempts


def _record_ids(body: bytes, records: int) -> set[str]:
    """The ce_id of every record of the object `body` is about, as any replay derives them."""
    messages = ObjectMessages(parse_event(body))
    return {messages.record_id(index).decode() for index in range(records)}


def _check_failed_then_complete(messages: list[Seen], body: bytes, *, records: int) -> None:
    """A failed attempt without marker, then a retry with every record, same ids, one marker."""
    first, retry = _attempts(messages)
    assert first[1:], "the failed attempt published nothing: the fault came too early"
    assert PUBLISHED not in {m.type for m in first}
    assert [m.type for m in retry] == [messages[0].type] + [RECORD] * records + [PUBLISHED]
    assert [m.index for m in retry[1:-1]] == list(range(records))
    expected = _record_ids(body, records)
    assert {m.id for m in retry[1:-1]} == expected
    assert {m.id for m in first[1:]} <= expected
    assert first[0].id == retry[0].id  # the event message: the OCI eventID both times


def _assert_failed_in_time(attempt: Attempt, *, words: tuple[str, ...]) -> None:
    assert attempt.outcome is None, attempt.outcome
    assert isinstance(attempt.error, TransientError), attempt.error
    assert attempt.answered_in_time, (attempt.seconds, attempt.fn_deadline)
    for word in words:
        assert word in str(attempt.error)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_bootstrap_port_nobody_listens_on_answers_502_within_the_unreachable_grace(
    standin: OciStandIn,
    own_broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
) -> None:
    # A production-like deadline: the 20 s unreachable grace, not the deadline, ends the wait.
    work = tmp_path_factory.mktemp("fdk")
    env = _env(
        standin,
        own_broker,
        "objstream",
        work / "oci",
        STREAM_BOOTSTRAP_SERVERS=f"localhost:{_closed_port()}",
    )
    body = upload(standin, unique("never.jsonl"), b'{"a": 1}\n')
    with fdk_function(env, work) as function:
        reply = function.call(body, deadline_in=40)
    record_answer(reply.seconds, str(reply.status), deadline=40, message=reply.body)
    assert reply.status == 502
    assert b"no broker at localhost:" in reply.body
    assert b"Connection refused" in reply.body
    assert 15 < reply.seconds < 30


def test_a_stopped_broker_fails_the_invocation_and_the_retry_after_restart_publishes_it_all(
    standin: OciStandIn, broker_up: Broker, tmp_path: Path, record_answer: RecordAnswer
) -> None:
    topic = broker_up.create_topic()
    name = unique("while-down.jsonl")
    body = upload(standin, name, _lines(500))
    warm = upload(standin, unique("before.jsonl"), _lines(3))
    with running_runtime(_env(standin, broker_up, topic, tmp_path)) as runtime:
        assert invoke(runtime, warm).status == "published"  # the producer is connected
        assert broker_up.process is not None
        broker_up.process.stop()
        failed = invoke(runtime, body, fn_deadline_in=10)
        record_answer(failed.seconds, failed.status, deadline=10, message=failed.error)
        _assert_failed_in_time(failed, words=("deadline",))
        broker_up.process.start()
        retried = invoke(runtime, body, fn_deadline_in=60)
        record_answer(retried.seconds, retried.status, deadline=60, message=retried.error)
    assert retried.status == "published", retried.error
    # The broker was down for the whole first attempt, whose messages were then purged:
    # only the retry is on the stream, complete.
    [retry] = _attempts(read_stream(broker_up, topic, subject=name))
    assert [m.type for m in retry[1:]] == [RECORD] * 500 + [PUBLISHED]
    assert [m.index for m in retry[1:-1]] == list(range(500))
    assert {m.id for m in retry[1:-1]} == _record_ids(body, 500)


def test_a_broker_killed_mid_file_fails_before_the_deadline_and_the_retry_publishes_every_record(
    standin: OciStandIn, broker_up: Broker, tmp_path: Path, record_answer: RecordAnswer
) -> None:
    topic = broker_up.create_topic()
    name = unique("killed.jsonl")
    records = 100_000
    body = upload(standin, name, _lines(records))
    process = broker_up.process
    assert process is not None
    factory = _fault_after(20_000, process.kill)
    env = _env(standin, broker_up, topic, tmp_path, DEADLINE_MARGIN_SECONDS="2")
    with running_runtime(env, publisher_factory=factory) as runtime:
        failed = invoke(runtime, body, fn_deadline_in=12)
        record_answer(failed.seconds, failed.status, deadline=12, message=failed.error)
        _assert_failed_in_time(failed, words=("deadline",))
        process.start()
        retried = invoke(runtime, body, fn_deadline_in=120)
        record_answer(retried.seconds, retried.status, deadline=120, message=retried.error)
    assert retried.status == "published", retried.error
    messages = read_stream(broker_up, topic, subject=name)
    _check_failed_then_complete(messages, body, records=records)
    retry = _attempts(messages)[-1]
    assert [json.loads(m.value)["n"] for m in retry[1:-1]] == list(range(records))


def test_a_frozen_broker_is_given_up_on_before_the_deadline_and_the_producer_recovers(
    standin: OciStandIn, broker_up: Broker, tmp_path: Path, record_answer: RecordAnswer
) -> None:
    # SIGSTOP: connections stay open but nothing is answered, as with a hung or
    # throttled broker. No error callback fires; only the deadline ends the wait.
    topic = broker_up.create_topic()
    name = unique("frozen.jsonl")
    body = upload(standin, name, _lines(50_000))
    process = broker_up.process
    assert process is not None
    assert process.process is not None
    pid = process.process.pid
    factory = _fault_after(10_000, lambda: os.kill(pid, signal.SIGSTOP))
    env = _env(standin, broker_up, topic, tmp_path, DEADLINE_MARGIN_SECONDS="1")
    with running_runtime(env, publisher_factory=factory) as runtime:
        failed = invoke(runtime, body, fn_deadline_in=8)
        record_answer(failed.seconds, failed.status, deadline=8, message=failed.error)
        os.kill(pid, signal.SIGCONT)
        _assert_failed_in_time(failed, words=("deadline",))
        assert failed.seconds > 6  # it waited for the broker as long as it could
        retried = invoke(runtime, body, fn_deadline_in=60)
        record_answer(retried.seconds, retried.status, deadline=60, message=retried.error)
    assert retried.status == "published", retried.error
    _check_failed_then_complete(read_stream(broker_up, topic, subject=name), body, records=50_000)


def test_one_fdk_process_keeps_publishing_across_a_broker_restart_between_invocations(
    standin: OciStandIn,
    broker_up: Broker,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
) -> None:
    topic = broker_up.create_topic()
    work = tmp_path_factory.mktemp("fdk")
    env = _env(standin, broker_up, topic, work / "oci")
    before, after = unique("before.jsonl"), unique("after.jsonl")
    with fdk_function(env, work) as function:
        first = function.call(upload(standin, before, _lines(10)))
        assert first.status == 200, first.body
        assert broker_up.process is not None
        broker_up.process.restart()
        second = function.call(upload(standin, after, _lines(10)), deadline_in=60)
    record_answer(second.seconds, str(second.status), deadline=60, message=second.body)
    assert second.status == 200, second.body
    assert json.loads(second.body)["status"] == "published"
    messages = read_stream(broker_up, topic, subject=after)
    assert [m.type for m in messages[1:]] == [RECORD] * 10 + [PUBLISHED]
