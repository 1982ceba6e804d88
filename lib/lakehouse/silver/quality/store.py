"""Where quality lands: a quarantine table per silver table, and one results table."""

from __future__ import annotations

import threading
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.bronze.columns import CORRUPT_RECORD
from lakehouse.silver.quality.check import RULES, RuleOutcome
from lakehouse.storage import delta_tables

RESULTS_SCHEMA = StructType(
    [
        StructField("table", StringType(), False),
        StructField("rule", StringType(), False),
        StructField("expectation_type", StringType(), False),
        StructField("column", StringType(), True),
        StructField("action", StringType(), False),
        StructField("evaluated", LongType(), False),
        StructField("failed", LongType(), False),
        StructField("gx_unexpected", LongType(), True),
        StructField("run_id", StringType(), False),
        StructField("batch_id", LongType(), False),
        StructField("checked_at", TimestampType(), False),
    ]
)

QUARANTINE_EXTRA = [
    StructField(CORRUPT_RECORD, StringType(), True),
    StructField(RULES, ArrayType(StringType()), False),
    StructField("_quarantined_at", TimestampType(), False),
]


def quarantine_schema(silver: StructType) -> StructType:
    return StructType(silver.fields + QUARANTINE_EXTRA)


def append_quarantine(rows: DataFrame, path: str, schema: StructType) -> None:
    columns = [
        F.col(f.name) if f.name in rows.columns else F.lit(None).cast(f.dataType).alias(f.name)
        for f in schema.fields
        if f.name != "_quarantined_at"
    ]
    rows.select(*columns, F.current_timestamp().alias("_quarantined_at")).write.format(
        "delta"
    ).mode("append").save(path)


# Every silver table of a run appends to the one results table, and the runner refreshes
# tables side by side: two first creations at once would conflict in Delta.
_RESULTS_TABLE = threading.Lock()


def ensure_results_table(spark: SparkSession, path: str) -> None:
    with _RESULTS_TABLE:
        delta_tables.ensure_table(spark, path, RESULTS_SCHEMA)


def append_results(
    spark: SparkSession,
    path: str,
    table: str,
    results: list[RuleOutcome],
    gx_unexpected: dict[str, int],
    run_id: str,
    batch_id: int,
) -> None:
    now = datetime.now()
    rows = [
        (
            table,
            r.rule,
            r.expectation_type,
            r.column,
            r.action,
            r.evaluated,
            r.failed,
            gx_unexpected.get(r.rule),
            run_id,
            batch_id,
            now,
        )
        for r in results
    ]
    spark.createDataFrame(rows, RESULTS_SCHEMA).write.format("delta").mode("append").save(path)
