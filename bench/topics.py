"""Topics for one measurement, and what the broker holds afterwards.

Every measurement publishes to a fresh one-partition topic (objstream's default key puts all
of an object's messages on one partition anyway), which is deleted after it was checked, so
a gigabyte run does not stay on the broker's disk. Admin and reads go over the PLAINTEXT
listener: they are the bench's bookkeeping, not what is measured.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported at run time, not in the stubs
    AdminClient,
    NewTopic,
)

if TYPE_CHECKING:
    from objstream.testing.jvm_kafka import Listener


@dataclass(frozen=True)
class StoredMessage:
    """What the bench needs of one message on the broker."""

    offset: int
    timestamp: float  # seconds since the epoch (the arrival time on LogAppendTime topics)
    ce_type: bytes
    key_bytes: int
    value_bytes: int
    header_bytes: int  # names and values
    headers: int
    record_count: int  # ce_recordcount of a packed message, else 1

    @classmethod
    def of(cls, message: Message) -> StoredMessage:
        """From a consumed message."""
        raw = message.headers() or []
        pairs = raw.items() if isinstance(raw, dict) else raw
        headers = [(str(n), v if isinstance(v, bytes) else (v or "").encode()) for n, v in pairs]
        named = dict(headers)
        ce_type = named.get("ce_type", b"")
        count = named.get("ce_recordcount")
        return cls(
            offset=message.offset() or 0,
            timestamp=message.timestamp()[1] / 1000,
            ce_type=ce_type,
            key_bytes=len(message.key() or b""),
            value_bytes=len(message.value() or b""),
            header_bytes=sum(len(n.encode()) + len(v) for n, v in headers),
            headers=len(headers),
            record_count=int(count) if count else 1,
        )


class Topics:
    """Creates, inspects and deletes the bench's topics on one broker."""

    def __init__(self, plaintext: Listener) -> None:
        self._config: dict[str, str | int | float | bool] = {
            **plaintext.client_config(),
            "log_level": 4,  # warnings and worse: not a notice per deleted topic
        }
        self._admin = AdminClient(self._config)  # kept: its futures fail once it is collected

    def create(self, prefix: str, *, arrival_time: bool = False) -> str:
        """A new empty topic with one partition; returns its name.

        With `arrival_time` the broker stamps each message with the time it appended it
        (LogAppendTime) instead of keeping the producer's CreateTime.
        """
        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        config = {"message.timestamp.type": "LogAppendTime"} if arrival_time else {}
        futures = self._admin.create_topics(
            [NewTopic(name, num_partitions=1, replication_factor=1, config=config)],
            operation_timeout=30,
        )
        futures[name].result(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            partitions = self._admin.list_topics(name, timeout=10).topics[name].partitions
            if partitions and all(p.leader >= 0 for p in partitions.values()):
                return name
            time.sleep(0.05)
        raise TimeoutError(f"topic {name} got no leader within 30 s")

    def delete(self, name: str) -> None:
        """Delete a topic (the broker removes its files in the background)."""
        futures = self._admin.delete_topics([name], operation_timeout=30)
        futures[name].result(timeout=30)

    def end_offset(self, name: str) -> int:
        """How many messages the topic's partition holds (its high watermark)."""
        consumer = self._consumer()
        try:
            return int(consumer.get_watermark_offsets(TopicPartition(name, 0), timeout=30)[1])
        finally:
            consumer.close()

    def timestamp_at(self, name: str, offset: int) -> tuple[float, bytes]:
        """The message at `offset`: its timestamp (seconds since the epoch) and ce_type header.

        The timestamp is the broker's arrival time on topics made with `arrival_time`.
        """
        consumer = self._consumer()
        try:
            consumer.assign([TopicPartition(name, 0, offset)])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001 - librdkafka's code name
                        continue
                    raise RuntimeError(str(error))
                _kind, millis = message.timestamp()
                headers = dict(message.headers() or [])
                ce_type = headers.get("ce_type") or b""
                return millis / 1000, ce_type if isinstance(ce_type, bytes) else ce_type.encode()
            raise TimeoutError(f"no message at offset {offset} of {name} within 30 s")
        finally:
            consumer.close()

    def messages(
        self, name: str, *, start: int = 0, count: int | None = None
    ) -> list[StoredMessage]:
        """The messages of the topic's partition from `start` (`count` of them, or to its end)."""
        end = self.end_offset(name)
        last = end if count is None else min(end, start + count)
        found: list[StoredMessage] = []
        if last <= start:
            return found
        consumer = self._consumer()
        try:
            consumer.assign([TopicPartition(name, 0, start)])
            deadline = time.monotonic() + 120
            while len(found) < last - start and time.monotonic() < deadline:
                for message in consumer.consume(10_000, timeout=1.0):
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001 - librdkafka's code name
                            continue
                        raise RuntimeError(str(error))
                    if (message.offset() or 0) >= last:
                        break
                    found.append(StoredMessage.of(message))
        finally:
            consumer.close()
        return found

    def message_sizes(self, name: str, *, start: int, count: int) -> dict[str, float]:
        """Average key, value and header bytes of `count` messages from `start`."""
        sample = self.messages(name, start=start, count=count)
        if not sample:
            return {}
        n = len(sample)
        return {
            "sampled": n,
            "key_bytes": sum(m.key_bytes for m in sample) / n,
            "value_bytes": sum(m.value_bytes for m in sample) / n,
            "header_bytes": sum(m.header_bytes for m in sample) / n,
            "headers": sum(m.headers for m in sample) / n,
        }

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                **self._config,
                "group.id": f"objstream-bench-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
