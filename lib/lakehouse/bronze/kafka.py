"""Bronze from a Kafka topic: every message once, parsed by the declared schema, with its
coordinates (topic, partition, offset, timestamp, key) as lineage.

Exactly once is Structured Streaming's: the checkpoint records each batch's offset range
before it runs, and the batch's Delta commit carries a transaction id, so a batch replayed
after a crash is skipped by Delta. A value that does not parse lands with its raw text in
``_corrupt_record``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.bronze.columns import CORRUPT_RECORD, LINEAGE_SCHEMA, RESCUED_DATA
from lakehouse.bronze.files import declared_schema, with_run
from lakehouse.config import Project, Table, secrets
from lakehouse.config.connectors import KafkaSource
from lakehouse.context import RunContext
from lakehouse.errors import SourceUnavailable
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import delta_log, delta_tables, exactly_once

log = logging.getLogger(__name__)

KAFKA_LINEAGE = StructType(
    [
        StructField("_kafka_topic", StringType(), True),
        StructField("_kafka_partition", IntegerType(), True),
        StructField("_kafka_offset", LongType(), True),
        StructField("_kafka_timestamp", TimestampType(), True),
        StructField("_kafka_key", StringType(), True),
    ]
)


class KafkaDataLost(RuntimeError):
    """Offsets were deleted by retention before the lakehouse read them."""


def bronze_schema(table: Table) -> StructType:
    return StructType(
        [
            *declared_schema(table.spec.source).fields,
            StructField(CORRUPT_RECORD, StringType(), True),
            StructField(RESCUED_DATA, StringType(), True),
            *LINEAGE_SCHEMA.fields,
            *KAFKA_LINEAGE.fields,
        ]
    )


def consumer_options(ref: str, kafka: KafkaSource) -> dict[str, str]:
    """The connector's options, secrets read from the environment now (never stored)."""
    options = {
        "kafka.bootstrap.servers": kafka.bootstrap_servers,
        "startingOffsets": kafka.starting_offsets,
        "failOnDataLoss": "true" if kafka.on_data_loss == "fail" else "false",
        **({"subscribe": kafka.topic} if kafka.topic else {"subscribePattern": kafka.pattern}),
        **{f"kafka.{k}": v for k, v in kafka.options.items()},
        **{f"kafka.{k}": v for k, v in secrets.resolve(kafka.secrets, ref).items()},
    }
    if kafka.max_offsets_per_batch:
        options["maxOffsetsPerTrigger"] = str(kafka.max_offsets_per_batch)
    return options


def parse(messages: DataFrame, table: Table) -> DataFrame:
    """Kafka's rows (key, value, topic, partition, offset, timestamp) in bronze's shape."""
    declared = declared_schema(table.spec.source)
    with_corrupt = StructType([*declared.fields, StructField(CORRUPT_RECORD, StringType(), True)])
    value = F.col("value").cast("string")
    parsed = F.from_json(
        value, with_corrupt, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}
    )
    # A value that is not a JSON object at all (null, a bare number) parses to null: keep it
    # as corrupt too, with its raw text.
    corrupt = F.when(parsed.isNull(), F.coalesce(value, F.lit(""))).otherwise(
        parsed[CORRUPT_RECORD]
    )
    # A parsed object with keys the schema does not declare keeps its whole value, so a
    # field the producer added is not lost (the contract's `rescue`).
    names = F.array(*(F.lit(f.name) for f in declared.fields))
    extra = F.size(F.array_except(F.json_object_keys(value), names)) > 0
    rescued = F.when(corrupt.isNull() & F.coalesce(extra, F.lit(False)), value)
    return messages.select(
        *(parsed[f.name].alias(f.name) for f in declared.fields),
        corrupt.alias(CORRUPT_RECORD),
        rescued.alias(RESCUED_DATA),
        F.format_string("kafka:%s/%d", "topic", "partition").alias("_source_file"),
        F.col("timestamp").alias("_source_modified_at"),
        F.col("offset").alias("_source_offset"),
        F.col("offset").alias("_source_row"),
        F.col("topic").alias("_kafka_topic"),
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("timestamp").alias("_kafka_timestamp"),
        F.col("key").cast("string").alias("_kafka_key"),
    )


def stream_writer(spark: SparkSession, project: Project, table: Table, run_id: str, seen: dict):
    """The topic as a stream whose batches will be appended to bronze (trigger not set)."""
    kafka = table.spec.source.kafka
    target = project.table_path(table)
    messages = spark.readStream.format("kafka").options(**consumer_options(table.ref, kafka)).load()

    def append(batch: DataFrame, batch_id: int) -> None:
        rows = with_run(parse(batch, table), run_id).select(*bronze_schema(table).fieldNames())
        rows.write.format("delta").mode("append").save(target)
        seen["rows"] = seen.get("rows", 0) + delta_log.last_commit_rows(batch.sparkSession, target)

    writer = messages.writeStream.option(
        "checkpointLocation", project.checkpoint_path(table)
    ).queryName(f"bronze_{table.name}")
    return writer, append


def ingest(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    """Append every message not landed before, then stop (availableNow)."""
    target = project.table_path(table)
    delta_tables.ensure_table(
        spark, target, bronze_schema(table), table.spec.partition_by, table.spec.table_properties
    )
    if not has_new(spark, project, table):
        return RefreshResult(table.ref, Status.UP_TO_DATE, rows_read=0)
    seen: dict = {}
    writer, append = stream_writer(spark, project, table, ctx.run_id, seen)
    try:
        exactly_once.for_each_batch_exactly_once(writer, table.ref, append)
    except Exception as exc:
        raise explain(table, exc) from exc
    return RefreshResult(table.ref, rows_read=seen.get("rows", 0))


def explain(table: Table, exc: Exception) -> Exception:
    """Spark's error, said in the table's terms where it is a known case."""
    text = str(exc)
    kafka = table.spec.source.kafka
    where = kafka.topic or kafka.pattern
    if "failOnDataLoss" in text or "may have been lost" in text.lower():
        return KafkaDataLost(
            f"{table.ref}: messages of {where} were deleted by the broker's retention before "
            "they were read; nothing was written. Re-publish them, or declare "
            "`on_data_loss: skip` in the table's kafka block to go on from the oldest kept."
        )
    if "TimeoutException" in text or "Timed out" in text:
        return SourceUnavailable(
            f"{table.ref}: Kafka at {kafka.bootstrap_servers} did not answer ({where})"
        )
    return exc


# --- "anything new?" without starting a stream ------------------------------------------


@dataclass(frozen=True)
class Offsets:
    ends: dict[tuple[str, int], int]  # the broker's next offset per partition
    consumed: dict[tuple[str, int], int] | None  # the checkpoint's, None without one
    pending: bool  # the checkpoint planned a batch it has not committed


def has_new(spark: SparkSession, project: Project, table: Table) -> bool:
    """True when the topic holds messages past the checkpoint's offsets (or when unsure)."""
    try:
        offsets = read_offsets(spark, project, table)
    except Exception as exc:  # the stream itself will say what is wrong, in full
        log.info("%s: cannot compare offsets cheaply (%s); reading the topic", table.ref, exc)
        return True
    if offsets.pending or offsets.consumed is None:
        return offsets.pending or any(offsets.ends.values())
    return any(end > offsets.consumed.get(tp, 0) for tp, end in offsets.ends.items() if end)


def read_offsets(spark: SparkSession, project: Project, table: Table) -> Offsets:
    return Offsets(
        ends=end_offsets(table.ref, table.spec.source.kafka),
        **_checkpoint_offsets(spark, project.checkpoint_path(table)),
    )


def end_offsets(ref: str, kafka: KafkaSource, timeout: float = 10.0) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    config = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "group.id": f"lakehouse-check-{ref}",
        "enable.auto.commit": False,
        **kafka.options,
        **secrets.resolve(kafka.secrets, ref),
    }
    consumer = Consumer(config)
    try:
        topics = consumer.list_topics(timeout=timeout).topics
        wanted = [
            t
            for t in topics
            if (t == kafka.topic if kafka.topic else re.fullmatch(kafka.pattern, t))
            and not t.startswith("__")
        ]
        ends = {}
        for topic in wanted:
            for partition in topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout
                )
                ends[(topic, partition)] = high
        return ends
    finally:
        consumer.close()


def _checkpoint_offsets(spark: SparkSession, checkpoint: str) -> dict:
    """The offsets after the checkpoint's last batch, and whether that batch is committed."""
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(checkpoint)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def batches(folder: str) -> list[int]:
        path = jvm.org.apache.hadoop.fs.Path(root, folder)
        if not fs.exists(path):
            return []
        return [
            int(s.getPath().getName())
            for s in fs.listStatus(path)
            if s.getPath().getName().isdigit()
        ]

    planned, committed = batches("offsets"), batches("commits")
    if not planned:
        return {"consumed": None, "pending": False}
    last = max(planned)
    stream = fs.open(jvm.org.apache.hadoop.fs.Path(root, f"offsets/{last}"))
    try:
        text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()
    # Line 1 is the log's version, line 2 the batch's metadata, then one line per source.
    source = json.loads(text.splitlines()[2])
    consumed = {(t, int(p)): int(o) for t, parts in source.items() for p, o in parts.items()}
    return {"consumed": consumed, "pending": last not in committed}
