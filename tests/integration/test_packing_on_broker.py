"""Packed messages on the real broker, under an OCI-like produce quota (CONTRACT §5, issue #15).

OCI Streaming's limit is bytes per second per partition, and a record message costs its
headers and key besides its value. Through the production path (`Runtime.invoke`, the real
StreamPublisher) to a one-partition topic under a 256 KiB/s quota, 128-byte JSON lines:
- records per second with packing against one message per record (the goal: at least 3 x);
- the stream bytes per record with packing (the goal: at most 1.15 x the value bytes),
  counted from what a consumer reads back (key, value and headers of every record message),
  and from the topic's log on disk where the tests run the broker themselves.
`unpack` on the consumed messages gives back every record with its index and id, the same
as the per-record run's.

Both timed runs go after a warm-up that uses the quota's first burst up, so each is measured
at the quota's steady rate; the figures are printed (`pytest -s`) and held to wide bands.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, cast

import pytest

from function.core.deadline import Deadline
from function.runtime import Runtime
from function.settings import Settings
from objstream.oci_events import object_event_body
from objstream.testing.fakes import FakeReader
from objstream.unpack import unpack

if TYPE_CHECKING:
    from confluent_kafka import Message

    from objstream.testing.brokers import Broker

pytestmark = pytest.mark.broker

QUOTA = 256 * 1024  # bytes per second
VALUE_BYTES = 128


def _lines(count: int) -> bytes:
    """`count` JSON lines whose values are exactly VALUE_BYTES long."""
    lines = []
    for n in range(count):
        head = f'{{"n":{n},"pad":"'
        lines.append(head + "x" * (VALUE_BYTES - len(head) - 2) + '"}')
    return ("\n".join(lines) + "\n").encode()


def _publish(broker: Broker, topic: str, name: str, data: bytes, **env: str) -> float:
    """Publish one object through the function's path; the seconds it took."""
    settings = Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": broker.plaintext.bootstrap_servers,
            "STREAM_TOPIC": topic,
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            "CONTINUATION": "off",
            **env,
        }
    )
    reader = FakeReader(data)
    runtime = Runtime(settings, reader=lambda: reader, tokens=None)
    event = object_event_body("ns", "uploads", name, f"etag-{name}", event_id=f"event-{name}")
    started = time.monotonic()
    try:
        outcome = runtime.invoke(event, Deadline.in_seconds(240))
    finally:
        runtime.close()
    assert outcome.status == "published", outcome.detail
    return time.monotonic() - started


def _of(messages: list[Message], name: str, ce_type: str) -> list[Message]:
    return [
        m
        for m in messages
        if dict(m.headers() or []).get("ce_subject") == name.encode()
        and dict(m.headers() or []).get("ce_type") == ce_type.encode()
    ]


def _stored_bytes(message: Message) -> int:
    """What one message brings to the log besides the batch framing: key, value, headers."""
    pairs = cast("list[tuple[str, bytes | None]]", message.headers() or [])
    headers = sum(len(name) + len(value or b"") for name, value in pairs)
    return len(message.key() or b"") + len(message.value() or b"") + headers


def _log_bytes(broker: Broker, topic: str) -> int | None:
    """The size of the topic's log on disk, where the tests run the broker (else None)."""
    if broker.process is None:
        return None
    folder = broker.process.run_dir / "data" / f"{topic}-0"
    return sum(f.stat().st_size for f in folder.glob("*.log"))


def test_packing_under_the_quota_carries_more_records_per_second_in_fewer_bytes(
    broker: Broker,
) -> None:
    per_record, packed = broker.create_topic(), broker.create_topic()
    warm_up, single_data, packed_data = _lines(12_000), _lines(5_000), _lines(20_000)
    figures: dict[str, Any] = {}
    with broker.produce_quota(QUOTA):
        # The quota's first burst (about 5 s of it) goes to a warm-up, not to the timed runs.
        _publish(broker, broker.create_topic(), "warm-up.jsonl", warm_up)
        single_seconds = _publish(broker, per_record, "single.jsonl", single_data)
        packed_seconds = _publish(
            broker, packed, "packed.jsonl", packed_data, MESSAGE_PACKING="jsonl"
        )
    single_rate, packed_rate = 5_000 / single_seconds, 20_000 / packed_seconds
    figures["records_per_second"] = {"per_record": single_rate, "packed": packed_rate}
    figures["ratio"] = packed_rate / single_rate

    single_messages = broker.consume(per_record, timeout=60)
    packed_messages = broker.consume(packed, timeout=60)
    records = _of(single_messages, "single.jsonl", "objstream.record")
    packs = _of(packed_messages, "packed.jsonl", "objstream.records")
    assert len(records) == 5_000
    single_bytes = sum(map(_stored_bytes, records)) / 5_000
    packed_bytes = sum(map(_stored_bytes, packs)) / 20_000
    figures["stream_bytes_per_record"] = {"per_record": single_bytes, "packed": packed_bytes}
    figures["packs"] = len(packs)
    log_bytes = _log_bytes(broker, packed)
    if log_bytes is not None:
        # The whole topic's log: the event and the marker too, and the batch framing.
        figures["packed_log_bytes_per_record"] = log_bytes / 20_000
        figures["per_record_log_bytes_per_record"] = (_log_bytes(broker, per_record) or 0) / 5_000
    print(json.dumps(figures, indent=2))

    assert figures["ratio"] >= 2.5, figures
    assert packed_bytes <= 1.15 * (VALUE_BYTES + 1), figures  # +1: each line's \n
    if log_bytes is not None:
        assert figures["packed_log_bytes_per_record"] <= 1.15 * VALUE_BYTES, figures

    # What a consumer gets back from the packs is every record, in order, with its id.
    unpacked = [record for message in packs for record in unpack(message)]
    assert [r.index for r in unpacked] == list(range(20_000))
    assert [r.value for r in unpacked] == [json.loads(line) for line in packed_data.splitlines()]
    assert len({r.id for r in unpacked}) == 20_000
    [marker] = _of(packed_messages, "packed.jsonl", "objstream.object.published")
    assert json.loads(marker.value() or b"")["records"] == 20_000


def test_unpack_on_consumed_messages_equals_the_per_record_run(broker: Broker) -> None:
    data = b"".join(b'{"n": %d}\n' % n for n in range(3000)) + b"{broken\n" + b'{"n": -1}\n'
    one_by_one, in_packs = broker.create_topic(), broker.create_topic()
    _publish(broker, one_by_one, "a.jsonl", data)
    _publish(broker, in_packs, "a.jsonl", data, MESSAGE_PACKING="jsonl", PACK_MAX_RECORDS="1000")
    single = [r for m in broker.consume(one_by_one) for r in unpack(m)]
    packed = [r for m in broker.consume(in_packs) for r in unpack(m)]
    assert packed == single
    assert [r.index for r in packed[-2:]] == [2999, 3001]  # 3000 was dead-lettered
