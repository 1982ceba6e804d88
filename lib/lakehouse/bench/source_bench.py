"""Kafka -> bronze and PostgreSQL -> bronze, rows per second, against Spark's own floor:
the same topic or table read and written as Delta with nothing else (no parsing, lineage,
contract or state). Figures, not assertions (docs/benchmark.md)."""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from lakehouse import bronze
from lakehouse.bronze import jdbc as jdbc_source
from lakehouse.config import Project, Table
from lakehouse.config.connectors import JdbcSource, KafkaSource
from lakehouse.config.tables import BronzeSpec, ColumnSpec, SourceSpec
from lakehouse.context import RunContext

SCHEMA = {
    "order_id": "string",
    "position_no": "int",
    "product_id": "string",
    "quantity": "int",
    "unit_price": "decimal(12,2)",
    "updated_at": "timestamp",
}


@dataclass(frozen=True)
class Figure:
    source: str
    rows: int
    floor_seconds: float
    ours_seconds: float

    def line(self) -> str:
        ratio = self.ours_seconds / self.floor_seconds
        return (
            f"| {self.source} | {self.rows:,} | {self.floor_seconds:.1f} "
            f"({self.rows / self.floor_seconds:,.0f}/s) | {self.ours_seconds:.1f} "
            f"({self.rows / self.ours_seconds:,.0f}/s) | {ratio:.2f} |"
        )


def _table(project: Project, name: str, **source: Any) -> Table:
    schema = {k: ColumnSpec(type=v) for k, v in SCHEMA.items()}
    spec = BronzeSpec(source=SourceSpec(schema=schema, **source))
    return Table("bronze", name, project.file, spec)


def _record(i: int) -> dict:
    return {
        "order_id": f"o{i // 3}",
        "position_no": i % 3,
        "product_id": f"p{i % 5000}",
        "quantity": 1 + i % 4,
        "unit_price": round(1 + (i % 997) / 10, 2),
        "updated_at": f"2026-03-{1 + i % 28:02d} 10:{i % 60:02d}:00",
    }


def publish(bootstrap: str, topic: str, rows: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1 << 20})
    for i in range(rows):
        while True:
            try:
                producer.produce(topic, json.dumps(_record(i)).encode())
                break
            except BufferError:
                producer.poll(0.2)
    producer.flush(120)


def fill_table(conn, table: str, rows: int) -> None:
    conn.execute(
        f"CREATE TABLE {table} (order_id text, position_no int, product_id text, quantity int,"
        " unit_price numeric(12,2), updated_at timestamp)"
    )
    buffer = io.StringIO()
    for i in range(rows):
        r = _record(i)
        buffer.write("\t".join(str(r[c]) for c in SCHEMA) + "\n")
    buffer.seek(0)
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        copy.write(buffer.read())
    conn.execute(f"CREATE INDEX ON {table} (updated_at)")


def bench_kafka(
    spark: SparkSession, project: Project, ctx: RunContext, bootstrap: str, rows: int, work: Path
):
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    publish(bootstrap, topic, rows)
    kafka = KafkaSource(bootstrap_servers=bootstrap, topic=topic)
    table = _table(project, "bench_kafka", format="kafka", kafka=kafka)

    t0 = time.monotonic()
    (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .writeStream.format("delta")
        .option("checkpointLocation", str(work / "floor_kafka_cp"))
        .trigger(availableNow=True)
        .start(str(work / "floor_kafka"))
        .awaitTermination()
    )
    floor = time.monotonic() - t0
    t0 = time.monotonic()
    result = bronze.ingest(spark, project, table, ctx)
    ours = time.monotonic() - t0
    assert result.rows_read == rows, f"landed {result.rows_read} of {rows}"
    return Figure("Kafka -> bronze", rows, floor, ours)


def bench_jdbc(
    spark: SparkSession, project: Project, ctx: RunContext, conn, url: str, rows: int, work: Path
):
    name = f"bench_{uuid.uuid4().hex[:8]}"
    fill_table(conn, name, rows)
    jdbc = JdbcSource(
        url=url,
        table=name,
        watermark="updated_at",
        lookback="10 minutes",
        secrets={"user": "LAKEHOUSE_PG_USER", "password": "LAKEHOUSE_PG_PASSWORD"},
    )
    table = _table(project, "bench_jdbc", format="jdbc", jdbc=jdbc)
    options = jdbc_source.connection_options(table)

    t0 = time.monotonic()
    spark.read.format("jdbc").options(**options).option("dbtable", name).load().write.format(
        "delta"
    ).save(str(work / "floor_jdbc"))
    floor = time.monotonic() - t0
    t0 = time.monotonic()
    result = bronze.ingest(spark, project, table, ctx)
    ours = time.monotonic() - t0
    assert result.rows_read == rows, f"landed {result.rows_read} of {rows}"
    return Figure("PostgreSQL -> bronze", rows, floor, ours)


def run(
    spark, project, ctx: RunContext, bootstrap: str, pg_conn, pg_url: str, rows: int, work: Path
):
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    figures = [
        bench_kafka(spark, project, ctx, bootstrap, rows, work),
        bench_jdbc(spark, project, ctx, pg_conn, pg_url, rows, work),
    ]
    header = (
        "| source | rows | floor s (rows/s) | bronze s (rows/s) | bronze / floor |\n"
        "|---|---|---|---|---|"
    )
    return "\n".join([header, *(f.line() for f in figures)])
