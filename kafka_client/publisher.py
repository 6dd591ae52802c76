"""A publisher that loses nothing: every message acknowledged, or a clear failure in time.

`produce()` is asynchronous. This wrapper keeps the promise a completion marker needs:

- a full local queue (BufferError) is back-pressure: serve callbacks and wait, never drop;
- every failed delivery is reported (librdkafka calls back on failures only; a success is
  implied when the queue drains, which `flush()` returning 0 proves);
- authentication and fatal errors end the publication at once instead of retrying until
  librdkafka's message timeout;
- a deadline bounds everything: when it comes, unsent messages are purged and the caller is
  told, before the deadline, that the publication is incomplete.

One `StreamPublisher` (one librdkafka producer) is reused across invocations; after a fatal
error its owner replaces it. It is not thread-safe: one publication at a time.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from typing import TYPE_CHECKING, Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer

from kafka_client.errors import (
    AuthenticationFailed,
    BrokerUnreachable,
    DeliveryTimedOut,
    ProducerConfigError,
    PublishFailed,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kafka_client.types import Headers

log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger("kafka_client.librdkafka")

# How many messages to produce between two polls: callbacks are served in batches, which is
# what keeps the per-message Python cost close to a bare produce loop.
_POLL_EVERY = 500
# Longest single wait inside flush/poll loops, so deadlines and failures are noticed quickly.
_WAIT_STEP = 0.1
# backlog_seconds(): one rate sample at most every _RATE_STEP seconds, the last _RATE_SAMPLES
# of them (about 5 s); no acknowledgement for _RATE_PATIENCE seconds means no rate at all.
_RATE_STEP = 0.25
_RATE_SAMPLES = 20
_RATE_PATIENCE = 2.0


class ProducerLike(Protocol):
    """The part of confluent_kafka.Producer the publisher uses (fakes implement it in tests)."""

    def produce(  # noqa: PLR0917 - mirrors confluent_kafka.Producer.produce
        self,
        topic: str,
        value: str | bytes | None = ...,
        key: str | bytes | None = ...,
        partition: int = ...,
        callback: Any = ...,
        on_delivery: Any = ...,
        timestamp: int = ...,
        headers: Any = ...,
    ) -> None: ...
    def poll(self, timeout: float = ...) -> int: ...
    def flush(self, timeout: float = ...) -> int: ...
    def purge(self, in_queue: bool = ..., in_flight: bool = ..., blocking: bool = ...) -> None: ...
    def list_topics(self, topic: str | None = ..., timeout: float = ...) -> Any: ...
    def __len__(self) -> int: ...


def _real_producer(config: dict[str, Any]) -> ProducerLike:
    try:
        return Producer(config)
    except KafkaException as exc:
        # librdkafka checks every property's value here; its message names the property.
        first = exc.args[0] if exc.args else exc
        reason = first.str() if isinstance(first, KafkaError) else str(first)
        raise ProducerConfigError(
            f"librdkafka refused the producer configuration: {reason}. Check that "
            "property's KAFKA_<PROPERTY> setting"
        ) from exc


class StreamPublisher:
    """Publishes messages through one reusable producer; see the module docstring."""

    sent: int
    failed: int
    _since_poll: int
    _auth_error: KafkaError | None
    _fatal_error: KafkaError | None
    _delivery_error: KafkaError | None
    _delivery_topic: str | None
    _last_transport_error: KafkaError | None
    _down_since: float | None
    _queued_before: int
    _acks: collections.deque[tuple[float, int]]

    def __init__(
        self,
        config: Mapping[str, str | bool],
        *,
        unreachable_grace: float = 20.0,
        producer_factory: Callable[[dict[str, Any]], ProducerLike] | None = None,
    ) -> None:
        self._bootstrap = str(config.get("bootstrap.servers", "?"))
        username = config.get("sasl.username")
        self._username = str(username) if username is not None else None
        self._unreachable_grace = unreachable_grace
        factory = producer_factory or _real_producer
        self._producer = factory(
            {
                **config,
                "error_cb": self._on_error,
                "on_delivery": self._on_delivery,
                "throttle_cb": self._on_throttle,
                # librdkafka's own log lines go through logging (fdk's handlers), not raw stderr.
                "logger": librdkafka_log,
            }
        )
        self._known_topics: set[str] = set()
        self._deadline = float("inf")
        self._throttled = (0.0, 0.0)  # when the broker last throttled us, and for how long
        self._last_held = -math.inf  # when it last reported a throttle of more than 0 s
        self._reset()

    # -- callbacks (served by poll/flush, in the calling thread) ------------------------------

    def _on_error(self, error: KafkaError) -> None:
        code = error.code()
        if code == KafkaError._AUTHENTICATION:  # noqa: SLF001 - librdkafka's public code name
            self._auth_error = error
        elif error.fatal():
            self._fatal_error = error
        elif code == KafkaError._ALL_BROKERS_DOWN:  # noqa: SLF001
            if self._down_since is None:
                self._down_since = time.monotonic()
            self._last_transport_error = error
        elif code in {KafkaError._TRANSPORT, KafkaError._SSL, KafkaError._RESOLVE}:  # noqa: SLF001
            self._last_transport_error = error
        log.warning("broker client error: %s", error.str(), extra={"kafka_error": error.name()})

    def _on_throttle(self, event: Any) -> None:
        # A broker over a quota holds its answers this long (OCI Streaming's 1 MB/s, a Kafka
        # client quota): settling what is queued takes at least that much longer.
        now, held = time.monotonic(), float(event.throttle_time)
        if held > 0:
            if now - self._last_held > _RATE_STEP * _RATE_SAMPLES and self._acks:
                # A quota's throttling begins. What the broker took before it was the quota's
                # burst, much faster than what it takes from now on: the rate starts over.
                self._acks.clear()
                self._acks.append((now, self.sent - len(self._producer)))
            self._last_held = now
        self._throttled = (now, held)

    def _on_delivery(self, error: KafkaError | None, message: Any) -> None:
        if error is None:  # only reachable if a user re-enables success reports
            return
        self.failed += 1
        if self._delivery_error is None:
            self._delivery_error = error
            self._delivery_topic = message.topic()

    # -- one publication ----------------------------------------------------------------------

    def _reset(self) -> None:
        self.sent = 0
        self.failed = 0
        self._since_poll = 0
        self._auth_error = None
        self._fatal_error = None
        self._delivery_error = None
        self._delivery_topic = None
        self._last_transport_error = None
        self._down_since = None
        self._queued_before = 0
        # (time, messages acknowledged so far) samples of the last few seconds: the rate
        # backlog_seconds() estimates from.
        self._acks = collections.deque(maxlen=_RATE_SAMPLES)

    def begin(self, deadline: float) -> None:
        """Start a publication that must be settled by `deadline` (a time.monotonic() value)."""
        self._producer.poll(0)  # serve anything left from an earlier, aborted publication
        self._reset()
        self._deadline = deadline
        self._acks.append((time.monotonic(), 0))

    def backlog_seconds(self) -> float:
        """How long what is still queued will take to be acknowledged, at the recent rate.

        The rate is the acknowledgements of the last few seconds (a broker quota's first
        burst does not count for long); a throttle the broker reported in that time is added,
        since the next answer may be held as long. 0 when nothing is queued; infinite when
        something has been queued for a while and nothing was acknowledged.
        """
        queued = len(self._producer)
        if not queued:
            return 0.0
        now = time.monotonic()
        when, held = self._throttled
        throttle = held if now - when < _RATE_STEP * _RATE_SAMPLES else 0.0
        self._acks.append((now, self.sent - queued))
        (then, acked_then), acked_now = self._acks[0], self.sent - queued
        if acked_now <= acked_then:
            return math.inf if now - then >= _RATE_PATIENCE + throttle else throttle
        return throttle + queued * (now - then) / (acked_now - acked_then)

    def ensure_topic(self, topic: str) -> None:
        """Check once per producer that `topic` exists (and that the broker lets us in)."""
        if topic in self._known_topics:
            return
        budget = max(0.1, min(self._deadline - time.monotonic(), self._unreachable_grace))
        give_up = time.monotonic() + budget
        while True:
            # Short metadata requests with callbacks served in between: an authentication
            # error is reported through error_cb, which a single long request would sit on.
            step = max(0.05, min(1.0, give_up - time.monotonic()))
            try:
                metadata = self._producer.list_topics(topic, timeout=step)
                break
            except KafkaException as exc:
                self._producer.poll(0)
                self._raise_if_failed()
                if time.monotonic() >= give_up:
                    raise BrokerUnreachable(
                        f"no broker at {self._bootstrap} answered within {budget:.0f} s "
                        f"({self._transport_hint(exc)})"
                    ) from exc
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            reason = described.error.str() if described is not None else "not in the metadata"
            raise PublishFailed(
                f"the stream (topic) {topic!r} is not available at {self._bootstrap}: {reason}. "
                "Check STREAM_TOPIC and that the stream exists in the stream pool the user "
                "name points to"
            )
        self._known_topics.add(topic)

    def send(self, topic: str, value: bytes | None, key: bytes | None, headers: Headers) -> None:
        """Queue one message; waits (never drops) when the local queue is full."""
        producer = self._producer
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                break
            except BufferError:
                # Back-pressure: the queue is full until the broker acknowledges a batch.
                if not len(producer):
                    # Empty, and still no room: the message is larger than the whole queue.
                    raise PublishFailed(
                        f"a message for {topic} of {len(value or b'') + len(key or b'')} bytes "
                        "is larger than the producer's whole queue "
                        "(queue.buffering.max.kbytes): it can never be queued"
                    ) from None
                producer.poll(_WAIT_STEP)
                self._raise_if_failed()
            except KafkaException as exc:
                raise PublishFailed(
                    f"the producer refused a message for {topic}: {exc.args[0].str()}"
                ) from exc
        self.sent += 1
        self._since_poll += 1
        if self._since_poll >= _POLL_EVERY:
            self._since_poll = 0
            producer.poll(0)
            self._raise_if_failed()
            now = time.monotonic()
            if now - self._acks[-1][0] >= _RATE_STEP:
                self._acks.append((now, self.sent - len(producer)))

    def settle(self) -> None:
        """Return once every message sent is acknowledged; raise if any is not."""
        while True:
            step = min(_WAIT_STEP, max(0.0, self._deadline - time.monotonic()))
            remaining = self._producer.flush(step)
            # Empty queue, no failure reported: everything was acknowledged. An error a side
            # connection reports now does not undo that (the next publication will see it).
            if remaining == 0 and self._delivery_error is None:
                return
            self._raise_if_failed()

    def abort(self) -> None:
        """Drop whatever is still queued (after a failure) so the producer starts clean."""
        # Blocking: the purged messages' reports are queued before poll serves them, so none
        # is left to be mistaken for a failure of the next publication.
        self._producer.purge(True, True, True)  # noqa: FBT003 - librdkafka's positional flags
        self._producer.poll(0)

    def close(self, timeout: float = 5.0) -> None:
        """Flush for up to `timeout` seconds, then destroy the producer now.

        The producer holds this publisher's callbacks, so the two form a reference cycle:
        merely dropped, they would live on until a cycle collection, and librdkafka's
        threads and sockets with them, still reconnecting (with refused credentials, after
        an authentication failure). Releasing the one reference to the producer here
        destroys it at once. The publisher cannot be used after close(); closing twice is
        harmless.
        """
        producer: ProducerLike | None = self.__dict__.pop("_producer", None)
        if producer is not None:
            producer.flush(timeout)

    # -- failure detection --------------------------------------------------------------------

    def _raise_if_failed(self) -> None:
        if self._auth_error is not None:
            raise AuthenticationFailed(
                f"the broker at {self._bootstrap} refused SASL authentication for user name "
                f"{self._username!r}: {self._auth_error.str()}",
                fatal=True,
            )
        if self._fatal_error is not None:
            raise PublishFailed(
                f"the producer hit a fatal error: {self._fatal_error.str()}", fatal=True
            )
        if self._delivery_error is not None:
            raise PublishFailed(
                f"{self.failed} message(s) were not acknowledged by {self._bootstrap} for "
                f"{self._delivery_topic}: {self._delivery_error.str()}"
            )
        now = time.monotonic()
        queued = len(self._producer)
        if self._down_since is not None and queued < self._queued_before:
            # The queue shrank: acknowledgements flow again (librdkafka says when brokers go
            # down, never when they come back).
            self._down_since = None
        self._queued_before = queued
        if (
            self._down_since is not None
            and now - self._down_since > self._unreachable_grace
            and len(self._producer) > 0
        ):
            raise BrokerUnreachable(
                f"no broker at {self._bootstrap} was reachable for "
                f"{now - self._down_since:.0f} s ({self._transport_hint(None)})"
            )
        if now >= self._deadline and len(self._producer) > 0:
            waiting = len(self._producer)
            raise DeliveryTimedOut(
                f"the deadline came with {waiting} message(s) not yet acknowledged by "
                f"{self._bootstrap}"
                + (
                    f" (last broker error: {self._last_transport_error.str()})"
                    if self._last_transport_error is not None
                    else ""
                )
            )

    def _transport_hint(self, exc: KafkaException | None) -> str:
        if self._last_transport_error is not None:
            return f"last error: {self._last_transport_error.str()}"
        if exc is not None and exc.args:
            first = exc.args[0]
            return f"last error: {first.str() if isinstance(first, KafkaError) else first}"
        return "check STREAM_BOOTSTRAP_SERVERS, the network path and the TLS settings"
