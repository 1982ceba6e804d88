"""Bronze from a real Kafka broker (scripts/services.sh): each message once, malformed ones
kept, Kafka's coordinates as lineage, lost offsets a clear error."""

from __future__ import annotations

import json

import pytest

from lakehouse import bronze
from lakehouse.bronze import kafka
from lakehouse.config import load_project
from lakehouse.results import Status
from tests.landing import run_ctx
from tests.services import unique

TABLE = """\
description: Web orders published by the e-commerce system.
source:
  format: kafka
  kafka:
    bootstrap_servers: {bootstrap}
    topic: {topic}
  schema:
    order_id: string
    quantity: int
    updated_at: timestamp
"""


@pytest.fixture
def kafka_project(conf_copy, tmp_path, monkeypatch, services):
    topic = unique("orders")
    (conf_copy / "tables" / "bronze" / "kafka_orders.yaml").write_text(
        TABLE.format(bootstrap=services.bootstrap, topic=topic)
    )
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "warehouse"))
    monkeypatch.setenv("LAKEHOUSE_GX_VALIDATION", "false")
    project = load_project(conf_copy / "lakehouse.yaml")
    return project, project.table("bronze.kafka_orders"), topic


def order(i: int, quantity: object = 1) -> str:
    return json.dumps(
        {"order_id": f"o{i}", "quantity": quantity, "updated_at": "2026-11-01T10:00:00"}
    )


def landed(spark, project, table):
    return spark.read.format("delta").load(project.table_path(table))


def test_each_message_lands_once_with_its_coordinates_and_malformed_ones_are_kept(
    spark,
    services,
    kafka_project,
):
    project, table, topic = kafka_project
    added = json.dumps({"order_id": "o5", "quantity": 2, "coupon": "X1"})
    values = [order(0), order(1), "{not json", order(3, quantity="many"), "42", added]
    services.produce(topic, values, keys=["k0", "k1", "k2", "k3", "k4", "k5"])

    first = bronze.ingest(spark, project, table, run_ctx("run-1"))
    rows = {r._kafka_offset: r for r in landed(spark, project, table).collect()}
    assert first.rows_read == 6 and sorted(rows) == [0, 1, 2, 3, 4, 5]
    assert rows[0].order_id == "o0" and rows[0].quantity == 1 and rows[0]._corrupt_record is None
    assert rows[0]._kafka_topic == topic and rows[0]._kafka_key == "k0"
    assert rows[0]._source_file == f"kafka:{topic}/0" and rows[0]._kafka_timestamp is not None
    # Malformed values keep their raw text; nothing is dropped.
    assert rows[2]._corrupt_record == "{not json" and rows[2].order_id is None
    assert rows[3]._corrupt_record == values[3]
    assert rows[4]._corrupt_record == "42"
    # A key the schema does not declare: the row parses, and its value is rescued whole.
    assert rows[5]._corrupt_record is None and rows[5]._rescued_data == added
    assert rows[0]._rescued_data is None

    # Nothing new: the offsets say so without starting a stream, and nothing is appended.
    assert not kafka.has_new(spark, project, table)
    again = bronze.ingest(spark, project, table, run_ctx("run-2"))
    assert again.rows_read == 0 and again.status is Status.UP_TO_DATE
    assert landed(spark, project, table).count() == 6

    services.produce(topic, [order(6), order(7)])
    assert kafka.has_new(spark, project, table)
    third = bronze.ingest(spark, project, table, run_ctx("run-3"))
    offsets = sorted(r._kafka_offset for r in landed(spark, project, table).collect())
    assert third.rows_read == 2 and offsets == list(range(8))


def test_offsets_lost_to_retention_stop_the_run_naming_the_topic(spark, services, kafka_project):
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient

    project, table, topic = kafka_project
    services.produce(topic, [order(i) for i in range(3)])
    bronze.ingest(spark, project, table, run_ctx("run-1"))
    services.produce(topic, [order(i) for i in range(3, 6)])
    # What retention does: the log's start moves past offsets 3 and 4 before they are read.
    admin = AdminClient({"bootstrap.servers": services.bootstrap})
    futures = admin.delete_records([TopicPartition(topic, 0, 5)])
    for f in futures.values():
        f.result(timeout=30)

    with pytest.raises(kafka.KafkaDataLost, match=topic):
        bronze.ingest(spark, project, table, run_ctx("run-2"))
    assert landed(spark, project, table).count() == 3  # nothing half-written
