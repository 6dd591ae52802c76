"""The ceiling: a bare confluent-kafka loop, the fastest a Python publisher on librdkafka goes.

Run as its own process (`python -m bench.ceiling`, a job as JSON on stdin, the result as JSON
on stdout) so nothing else in the bench competes with it for the interpreter.

It publishes exactly what objstream publishes for a dataset: the same values (split off the
file before the clock starts, see bench.datasets), the object's key, and per record a header
list of the same shape, prebuilt before the clock starts with objstream's own
`ObjectMessages.record_headers`. The producer has objstream's configuration
(kafka_client.config.producer_config) with the same callbacks, has a warm connection (one
message to a warm-up topic first, as the function's warm-up invocation gives it), polls every
500 messages and flushes at the end; the garbage collector is off while it runs. Timed: from
the first produce() until flush() returned with nothing left, i.e. every message acknowledged.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from typing import Any

from confluent_kafka import KafkaError, Producer

from bench.datasets import from_json, split_values
from function.core.decoding.records import RecordFormat
from function.core.events import parse_event
from function.core.messages import ObjectMessages
from kafka_client.config import ConnectionSettings, producer_config

POLL_EVERY = 500


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Publish the job's dataset once; return what was measured."""
    dataset = from_json(job["dataset"])
    # Off from the start: the prebuilt values and header lists are millions of containers,
    # which the collector would walk again and again while they are built (1.5 of the 2 s of
    # building a million header lists). The timed loop runs with it off too (below).
    gc.disable()
    started = time.perf_counter()
    values = split_values(dataset)
    split_seconds = time.perf_counter() - started

    messages = ObjectMessages(parse_event(job["event"].encode()))
    messages.start_records(RecordFormat(dataset.record_format))
    key = messages.key
    started = time.perf_counter()
    headers = [list(messages.record_headers(index)) for index in range(len(values))]
    headers_seconds = time.perf_counter() - started

    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            failures.append(error)

    def on_error(error: KafkaError) -> None:
        failures.append(error)

    connection = ConnectionSettings(**job["connection"])
    producer = Producer(
        {**producer_config(connection), "on_delivery": on_delivery, "error_cb": on_error}
    )
    topic = job["topic"]
    producer.list_topics(topic, timeout=30)
    producer.produce(job["warmup_topic"], b"{}", key)
    if producer.flush(30) != 0:
        raise RuntimeError("the warm-up message was not acknowledged")

    # Nothing is allocated in the loop: the collector has nothing to do but walk the
    # prebuilt lists, which a publisher that builds as it goes would never pay for.
    gc.collect()
    gc.freeze()
    produce, poll = producer.produce, producer.poll
    waits = 0
    count = len(values)
    cpu_started = time.process_time()
    first_wall = time.time()
    started = time.perf_counter()
    for begin in range(0, count, POLL_EVERY):
        for index in range(begin, min(begin + POLL_EVERY, count)):
            while True:
                try:
                    produce(topic, values[index], key, headers=headers[index])
                    break
                except BufferError:
                    waits += 1
                    poll(0.1)
        poll(0)
    produced = time.perf_counter()
    left = producer.flush(600)
    finished = time.perf_counter()
    cpu_seconds = time.process_time() - cpu_started
    if left or failures:
        raise RuntimeError(f"{left} messages not acknowledged; errors: {failures[:3]}")
    return {
        "records": count,
        "value_bytes": sum(map(len, values)),
        "split_seconds": round(split_seconds, 3),
        "headers_seconds": round(headers_seconds, 3),
        "seconds": finished - started,
        "produce_loop_seconds": round(produced - started, 3),
        "flush_seconds": round(finished - produced, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "queue_full_waits": waits,
        "first_produce_wall": first_wall,
    }


def main() -> int:
    """Read the job from stdin, print the result as JSON."""
    job = json.loads(sys.stdin.read())
    print(json.dumps(run(job)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
