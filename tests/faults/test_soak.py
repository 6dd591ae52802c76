"""Soak: 1 000 invocations in one container, mixed formats and failures, resources flat.

One function container (fdk over its socket), against the real broker (SASL_SSL) and the
stand-in over HTTP, as a long-lived OCI Functions container would serve them: CSV, JSON,
JSON lines, gzip, text, dead letters, bodies that are not events, objects gone or
overwritten, objects rejected.
After a warm-up, the fdk process's RSS, open file descriptors and threads may grow by at
most the stated bounds over the remaining invocations. The fdk process holds the function
alone (the stand-in and the test's own threads live in this process), so what is measured
is what a container would.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from objstream.testing.scenario import function_env, oci_event
from tests.faults.conftest import (
    BUCKET,
    NAMESPACE,
    fdk_function,
    open_fds,
    status_kib,
    threads,
    unique,
    upload,
)

if TYPE_CHECKING:
    from objstream.testing.brokers import Broker
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import RecordAnswer

pytestmark = [pytest.mark.broker, pytest.mark.slow]

# OBJSTREAM_SOAK_INVOCATIONS runs a longer soak by hand; the suite runs 1 000.
INVOCATIONS = int(os.environ.get("OBJSTREAM_SOAK_INVOCATIONS", "1000"))
WARM_UP = 100
RSS_BOUND_MIB = 8
FD_BOUND = 3
THREAD_BOUND = 2


def _bodies(standin: OciStandIn) -> list[tuple[str, bytes]]:
    """One invocation body of each kind, with the outcome status it must get."""
    rows = b"".join(b"%d,name %d,%d.50\r\n" % (i, i, i) for i in range(20))
    lines = b"".join(b'{"n": %d, "tags": ["a", "b"]}\n' % i for i in range(20))
    stale = unique("stale.jsonl")
    stale_event = upload(standin, stale, b"{}\n")
    upload(standin, stale, b'{"newer": true}\n')
    gone = unique("gone.csv")
    gone_event = upload(standin, gone, b"a\n1\n")
    standin.delete_object(NAMESPACE, BUCKET, gone)
    return [
        ("published", upload(standin, unique("rows.csv"), b"id,name,price\r\n" + rows)),
        ("published", upload(standin, unique("lines.jsonl"), lines)),
        (
            "published",
            upload(standin, unique("array.json"), b"[" + lines.replace(b"\n", b",")[:-1] + b"]"),
        ),
        ("published", upload(standin, unique("lines.jsonl.gz"), gzip.compress(lines))),
        ("published", upload(standin, unique("app.log"), b"line one\nline two\n\xff bad\n")),
        ("rejected", upload(standin, unique("cut.jsonl.gz"), gzip.compress(lines)[:-40])),
        ("skipped", stale_event),
        ("skipped", gone_event),
        ("error", b"this is not an event"),
        ("error", b'{"eventType": "com.oraclecloud.objectstorage.createobject", "data": []}'),
        ("skipped", oci_event(NAMESPACE, BUCKET, "x", "e", event_type="com.example.other")),
    ]


def _resources(pid: int) -> tuple[int, int, int]:
    return status_kib(pid, "VmRSS"), open_fds(pid), threads(pid)


def test_a_thousand_mixed_invocations_keep_memory_descriptors_and_threads_flat(
    standin: OciStandIn,
    broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
) -> None:
    topic = broker.create_topic()
    kinds = _bodies(standin)
    work = tmp_path_factory.mktemp("fdk")
    env = function_env(standin, work / "oci", broker.sasl_ssl, topic)
    statuses: Counter[str] = Counter()
    started = time.monotonic()
    with fdk_function(env, work) as function:
        pid = function.pid
        for number in range(INVOCATIONS):
            if number == WARM_UP:
                rss_before, fds_before, threads_before = _resources(pid)
                halfway = rss_before
            elif number == (WARM_UP + INVOCATIONS) // 2:
                halfway = _resources(pid)[0]
            expected, body = kinds[number % len(kinds)]
            reply = function.call(body)
            status = json.loads(reply.body)["status"] if reply.status == 200 else reply.status
            assert status == expected, (number, reply.body[:300])
            statuses[status] += 1
        rss_after, fds_after, threads_after = _resources(pid)
    elapsed = time.monotonic() - started
    growth_mib = (rss_after - rss_before) / 1024
    record_answer(
        elapsed / INVOCATIONS,
        f"soak {INVOCATIONS}",
        message=(
            f"RSS {rss_before / 1024:.1f} -> {halfway / 1024:.1f} -> {rss_after / 1024:.1f} MiB"
            f" ({growth_mib:+.1f}), fds {fds_before} -> {fds_after}, threads {threads_before}"
            f" -> {threads_after}, {dict(statuses)}, {elapsed:.1f} s in all"
        ),
    )
    print(
        f"soak: RSS {rss_before} -> {halfway} -> {rss_after} KiB, fds {fds_before} -> "
        f"{fds_after}, threads {threads_before} -> {threads_after}, {elapsed:.1f} s"
    )
    assert growth_mib < RSS_BOUND_MIB
    assert fds_after - fds_before <= FD_BOUND
    assert threads_after - threads_before <= THREAD_BOUND
