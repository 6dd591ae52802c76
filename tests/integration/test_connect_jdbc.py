"""A real Kafka Connect JDBC sink (Debezium) writes objstream's records into PostgreSQL.

Everything is real and local: the JVM broker (SASL_SSL/PLAIN, like OCI Streaming), Kafka
Connect standalone from Maven Central jars with the project's worker config
(connect/worker.properties) and example connector (connect/jdbc-sink-postgres.json), and a
PostgreSQL server from Debian's package. The function publishes through its own pipeline with
VALUE_FORMAT=connect-json; only the Object Storage read is a fake.

What this proves: JsonConverter accepts every message on the stream (the OCI event and the
markers included); the sink writes one row per record with the declared column types and
the lifted ce_subject/ce_recordindex headers; a replay of the same event rewrites the same
rows (upsert by objstream_id) instead of adding rows; a record that fails its declared type
becomes a dead letter the sink skips, while the object's good rows arrive.
"""

from __future__ import annotations

import datetime as dt
import decimal
import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pytest

from function.core.deadline import Deadline
from function.runtime import Runtime
from function.settings import Settings
from objstream.testing.connect import ConnectWorker, load_example, running_connect
from objstream.testing.fakes import FakeReader
from objstream.testing.postgres import PASSWORD as POSTGRES_PASSWORD
from objstream.testing.postgres import PostgresServer, running_postgres
from objstream.testing.scenario import oci_event
from objstream.testing.typed_files import parquet_bytes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from objstream.testing.brokers import Broker

pytestmark = [pytest.mark.broker, pytest.mark.slow]

NAMESPACE, BUCKET = "axaxnpcrorw5", "uploads"

# As spreadsheets export them: CRLF, quoted commas, doubled quotes, a newline inside a quoted
# field, non-ASCII text, an empty last field.
ORDERS_HEADER = b"order_id,customer,city,quantity,unit_price,paid,note\r\n"
ORDERS_ROWS = [
    '1001,"Zoë Müller","Zürich, CH",3,12.50,true,"said ""hi"", left"\r\n'.encode(),
    '1002,李雷,北京,1,3.10,false,"two\r\nlines 🚀"\r\n'.encode(),
    '1003,"O\'Brien, Seán",Dublin,12,1000.00,yes,\r\n'.encode(),
]
ORDERS_CSV = ORDERS_HEADER + b"".join(ORDERS_ROWS)
COLUMN_TYPES = "quantity:int32,unit_price:decimal,paid:boolean"
EXPECTED = [
    # objstream_id suffix, order_id, customer, city, quantity, unit_price, paid, note
    ("0", "1001", "Zoë Müller", "Zürich, CH", 3, decimal.Decimal("12.50"), True, 'said "hi", left'),
    ("1", "1002", "李雷", "北京", 1, decimal.Decimal("3.10"), False, "two\r\nlines 🚀"),
    ("2", "1003", "O'Brien, Seán", "Dublin", 12, decimal.Decimal("1000.00"), True, ""),
]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the module's tests."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def connect(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectWorker]:
    """One Kafka Connect worker on the broker's OCI-like SASL_SSL listener."""
    env = {"JDBC_PASSWORD": POSTGRES_PASSWORD}  # the connector reads ${env:JDBC_PASSWORD}
    with running_connect(tmp_path_factory.mktemp("connect"), broker.sasl_ssl, env=env) as worker:
        print(f"Kafka Connect answered {worker.started_in:.1f} s after launch")
        yield worker


def _settings(broker: Broker, topic: str, *, column_types: str | None = COLUMN_TYPES) -> Settings:
    listener = broker.sasl_ssl
    typed = {"CONNECT_COLUMN_TYPES": column_types} if column_types is not None else {}
    return Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": listener.bootstrap_servers,
            "STREAM_TOPIC": topic,
            "STREAM_SECURITY_PROTOCOL": "SASL_SSL",
            "STREAM_SASL_MECHANISM": "PLAIN",
            "STREAM_USERNAME": listener.username or "",
            "STREAM_AUTH_TOKEN": listener.password or "",
            "STREAM_SSL_CA_LOCATION": listener.ca_location or "",
            "VALUE_FORMAT": "connect-json",
            **typed,
        }
    )


def _publish(settings: Settings, event: bytes, reader: FakeReader) -> dict[str, Any]:
    """One invocation through the function's pipeline; its outcome as the JSON it answers."""
    runtime = Runtime.for_oci(settings, reader=reader)
    try:
        outcome = runtime.invoke(event, Deadline.in_seconds(60))
    finally:
        runtime.close()
    return {"status": outcome.status, **outcome.detail}


def _sink_config(topic: str, table: str, postgres: PostgresServer) -> tuple[str, dict[str, str]]:
    """The example connector, pointed at this test's topic, table and server."""
    name, config = load_example()
    config.update(
        {
            "topics": topic,
            "connection.url": postgres.jdbc_url,
            "connection.username": postgres.user,
            "collection.name.format": table,
        }
    )
    return f"{name}-{table}", config


def _past_last_record(broker: Broker, topic: str) -> dict[int, int]:
    """Per partition, the offset after the last record message (what the sink must commit).

    Debezium's sink commits up to the last record it was handed, so the messages the Filter
    drops after it (the published marker) never move its committed offset.
    """
    ends: dict[int, int] = {}
    for message in broker.consume(topic):
        headers = dict(message.headers() or [])
        if "ce_recordindex" in headers:
            ends[message.partition() or 0] = (message.offset() or 0) + 1
    return ends


def _count(postgres: PostgresServer, table: str) -> int:
    try:
        [(count,)] = postgres.query(f'SELECT count(*) FROM "{table}"')
    except psycopg.errors.UndefinedTable:
        return 0  # the sink creates the table with its first row
    return int(count)


def _rows(postgres: PostgresServer, table: str) -> list[tuple[Any, ...]]:
    return postgres.query(
        "SELECT objstream_id, order_id, customer, city, quantity, unit_price, paid, note, "
        f'source_object, record_index, source_etag FROM "{table}" ORDER BY record_index::int'
    )


def test_a_jdbc_sink_writes_one_typed_row_per_csv_record_and_a_replay_rewrites_the_same_rows(
    broker: Broker, connect: ConnectWorker, postgres: PostgresServer
) -> None:
    started = time.monotonic()
    topic = broker.create_topic()
    table = f"orders_{uuid.uuid4().hex[:8]}"
    object_name = "incoming/2026/orders.csv"
    etag = str(uuid.uuid4())
    event = oci_event(NAMESPACE, BUCKET, object_name, etag)
    reader = FakeReader(ORDERS_CSV, content_type="text/csv")
    settings = _settings(broker, topic)

    outcome = _publish(settings, event, reader)
    assert outcome["status"] == "published"
    assert outcome["records"] == len(EXPECTED)

    name, config = _sink_config(topic, table, postgres)
    connect.create_connector(name, config)
    connect.wait_for_rows(name, lambda: _count(postgres, table), len(EXPECTED))
    # The connector got past the event message and the last record without failing.
    connect.wait_until_consumed(name, _past_last_record(broker, topic))
    first = _rows(postgres, table)
    delivered = time.monotonic() - started

    ids = [row[0] for row in first]
    prefix = ids[0].rsplit("-", 1)[0]
    assert len(prefix) == 32
    assert ids == [f"{prefix}-{suffix}" for suffix, *_ in EXPECTED]
    assert [row[1:8] for row in first] == [tuple(values) for _, *values in EXPECTED]
    assert [row[8:] for row in first] == [
        (object_name, str(index), etag) for index in range(len(EXPECTED))
    ]
    column_types = dict(
        postgres.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            (table,),
        )
    )
    assert column_types == {
        "objstream_id": "text",
        "order_id": "text",
        "customer": "text",
        "city": "text",
        "quantity": "integer",
        "unit_price": "numeric",
        "paid": "boolean",
        "note": "text",
        "source_object": "text",
        "record_index": "text",
        "source_etag": "text",
    }

    # The same event again (OCI delivers at least once; a 502 is retried): same ids, so the
    # sink's upsert rewrites the rows it has.
    assert _publish(settings, event, reader)["status"] == "published"
    connect.wait_until_consumed(name, _past_last_record(broker, topic))
    assert _rows(postgres, table) == first
    print(
        f"rows in PostgreSQL {delivered:.1f} s after the first publish; "
        f"with the replay {time.monotonic() - started:.1f} s"
    )


def test_a_record_that_fails_its_declared_type_is_dead_lettered_and_the_sink_writes_the_rest(
    broker: Broker, connect: ConnectWorker, postgres: PostgresServer
) -> None:
    topic = broker.create_topic()
    table = f"orders_{uuid.uuid4().hex[:8]}"
    etag = str(uuid.uuid4())
    first, *rest = ORDERS_ROWS
    bad_row = b"1004,Someone,Oslo,a dozen,1.00,true,\r\n"  # quantity is not an int32
    # The bad row is not last, so the sink must get past its dead letter to reach the rest.
    reader = FakeReader(b"".join([ORDERS_HEADER, first, bad_row, *rest]), content_type="text/csv")
    settings = _settings(broker, topic)  # dead letters go to the same topic (the default)

    outcome = _publish(settings, oci_event(NAMESPACE, BUCKET, "orders.csv", etag), reader)
    assert outcome["status"] == "published"
    assert (outcome["records"], outcome["deadLettered"]) == (len(EXPECTED), 1)

    name, config = _sink_config(topic, table, postgres)
    connect.create_connector(name, config)
    connect.wait_until_consumed(name, _past_last_record(broker, topic))
    rows = _rows(postgres, table)
    assert [(row[1], row[9]) for row in rows] == [("1001", "0"), ("1002", "2"), ("1003", "3")]


# A Parquet export whose columns carry their types: the Connect schema comes from the file's
# own (no CONNECT_COLUMN_TYPES), so the sink creates typed columns.
PARQUET_AT = dt.datetime(2026, 11, 28, 10, 0, 0, 123000, tzinfo=dt.UTC)
PARQUET_TABLE = pa.table(
    {
        "id": pa.array([2**40 + 1, -(2**62), 0], pa.int64()),
        "ratio": pa.array([0.1, -1.5e300, None], pa.float64()),
        "paid": pa.array([True, False, None], pa.bool_()),
        "customer": pa.array(["Zoë Müller", '李雷 "🚀"', None], pa.string()),
        "blob": pa.array([b"\x00\xff\x10", b"", None], pa.binary()),
        "price": pa.array(
            [decimal.Decimal("12.50"), decimal.Decimal("-9999999999.99"), None],
            pa.decimal128(12, 2),
        ),
        "day": pa.array([dt.date(2024, 2, 29), dt.date(1900, 1, 1), None], pa.date32()),
        "at": pa.array(
            [PARQUET_AT, PARQUET_AT - dt.timedelta(days=20_000), None], pa.timestamp("ms", "UTC")
        ),
    }
)
PARQUET_EXPECTED = [
    (2**40 + 1, 0.1, True, "Zoë Müller", b"\x00\xff\x10", decimal.Decimal("12.50"),
     dt.date(2024, 2, 29), PARQUET_AT.replace(tzinfo=None)),
    (-(2**62), -1.5e300, False, '李雷 "🚀"', b"", decimal.Decimal("-9999999999.99"),
     dt.date(1900, 1, 1), (PARQUET_AT - dt.timedelta(days=20_000)).replace(tzinfo=None)),
    (0, None, None, None, None, None, None, None),
]  # fmt: skip


def test_a_parquet_file_lands_as_typed_postgresql_columns_from_its_own_schema(
    broker: Broker, connect: ConnectWorker, postgres: PostgresServer
) -> None:
    topic = broker.create_topic()
    table = f"export_{uuid.uuid4().hex[:8]}"
    data = parquet_bytes(PARQUET_TABLE, row_group_size=2)  # two row groups
    reader = FakeReader(data)
    settings = _settings(broker, topic, column_types=None)
    assert not settings.column_types

    event = oci_event(NAMESPACE, BUCKET, "exports/2026/customers.parquet", str(uuid.uuid4()))
    outcome = _publish(settings, event, reader)
    assert (outcome["status"], outcome["format"]) == ("published", "parquet")
    assert outcome["records"] == len(PARQUET_EXPECTED)
    assert len(reader.ranged) == 1

    name, config = _sink_config(topic, table, postgres)
    connect.create_connector(name, config)
    connect.wait_for_rows(name, lambda: _count(postgres, table), len(PARQUET_EXPECTED))
    connect.wait_until_consumed(name, _past_last_record(broker, topic))

    column_types = dict(
        postgres.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            (table,),
        )
    )
    assert column_types == {
        "objstream_id": "text",
        "id": "bigint",
        "ratio": "double precision",
        "paid": "boolean",
        "customer": "text",
        "blob": "bytea",
        "price": "numeric",
        "day": "date",
        "at": "timestamp without time zone",
        "source_object": "text",
        "record_index": "text",
        "source_etag": "text",
    }
    rows = postgres.query(
        "SELECT id, ratio, paid, customer, blob, price, day, at "
        f'FROM "{table}" ORDER BY record_index::int'
    )
    assert [
        (*row[:4], bytes(row[4]) if row[4] is not None else None, *row[5:]) for row in rows
    ] == (PARQUET_EXPECTED)
