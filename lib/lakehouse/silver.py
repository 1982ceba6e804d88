"""Silver: one typed row per business key, the latest version winning, merged in from the
bronze rows that arrived since the last run."""

from __future__ import annotations

from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse import delta_io
from lakehouse.bronze import ARRIVAL_COLUMNS, CORRUPT_RECORD, LINEAGE_SCHEMA
from lakehouse.config import Project, Table
from lakehouse.config.model import SilverSpec
from lakehouse.schema import struct_from_columns

# Bronze lineage travels into silver; `_run_id` there names the silver run that wrote the row.
SILVER_LINEAGE = [f for f in LINEAGE_SCHEMA.fields if f.name != "_run_id"] + [
    StructField("_run_id", StringType(), False)
]


def silver_schema(spec: SilverSpec) -> StructType:
    return StructType(struct_from_columns(spec.columns).fields + SILVER_LINEAGE)


def conform(df: DataFrame, spec: SilverSpec, run_id: str) -> DataFrame:
    """Typed columns computed from their declared expression (default: same-named column).

    A value that does not fit its type becomes null rather than failing the batch; the raw
    value stays in bronze. A malformed line's raw text is carried along so it can be rejected.
    """
    columns = [
        F.expr(column.expr or f"`{name}`").try_cast(column.type).alias(name)
        for name, column in spec.columns.items()
    ]
    lineage = [F.col(f.name) for f in SILVER_LINEAGE if f.name != "_run_id"]
    raw = [F.col(CORRUPT_RECORD)] if CORRUPT_RECORD in df.columns else []
    return df.select(*columns, *lineage, F.lit(run_id).alias("_run_id"), *raw)


def sequence_columns(spec: SilverSpec) -> tuple[str, ...]:
    """Newest first by the declared sequence, then by arrival (file, then line)."""
    return (*spec.sequence_by, *ARRIVAL_COLUMNS)


def latest_per_key(df: DataFrame, keys: tuple[str, ...], order: tuple[str, ...]) -> DataFrame:
    """Keep one row per key: the greatest by ``order`` (nulls count as oldest)."""
    window = Window.partitionBy(*keys).orderBy(*(F.col(c).desc_nulls_last() for c in order))
    return df.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


def newer_than(source: str, target: str, columns: tuple[str, ...]) -> str:
    """SQL: is the source row newer than the target row, comparing ``columns`` in order,
    a null being older than any value."""
    condition = "false"
    for c in reversed(columns):
        s, t = f"{source}.`{c}`", f"{target}.`{c}`"
        condition = (
            f"(({s} IS NOT NULL AND {t} IS NULL) OR {s} > {t} OR ({s} <=> {t} AND {condition}))"
        )
    return condition


def split_rejected(df: DataFrame, spec: SilverSpec) -> tuple[DataFrame, DataFrame]:
    """Rows silver cannot take: malformed lines and rows without a complete business key."""
    bad: Column = F.lit(False)
    if CORRUPT_RECORD in df.columns:
        bad = bad | F.col(CORRUPT_RECORD).isNotNull()
    for key in spec.keys:
        bad = bad | F.col(key).isNull()
    flagged = df.withColumn("_rejected", bad)
    return (
        flagged.where(~F.col("_rejected")).drop("_rejected", CORRUPT_RECORD),
        flagged.where(F.col("_rejected")).drop("_rejected"),
    )


def merge_latest(target: DeltaTable, batch: DataFrame, spec: SilverSpec) -> None:
    """Upsert the batch's latest version per key; an older version never replaces a newer one."""
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in spec.keys)
    # With a business sequence an equal version is a re-send: leave the row (and its lineage) be.
    decisive = spec.sequence_by or ARRIVAL_COLUMNS
    (
        target.alias("t")
        .merge(batch.alias("s"), on)
        .whenMatchedUpdateAll(condition=newer_than("s", "t", decisive))
        .whenNotMatchedInsertAll()
        .execute()
    )


@dataclass(frozen=True)
class RefreshResult:
    table: str
    rows_read: int
    rows_rejected: int


def refresh(spark: SparkSession, project: Project, table: Table, run_id: str) -> RefreshResult:
    spec: SilverSpec = table.spec
    source = project.table(spec.source)
    path = project.table_path(table)
    delta_io.ensure_table(spark, path, silver_schema(spec), spec.partition_by, delta_io.CHANGE_FEED)
    rejected_total = 0

    def handle(batch: DataFrame, batch_id: int) -> None:
        nonlocal rejected_total
        batch = batch.persist()
        try:
            accepted, rejected = split_rejected(conform(batch, spec, run_id), spec)
            rejected_total += rejected.count()
            # The batch's own session carries the idempotent-write settings of this micro-batch.
            target = DeltaTable.forPath(batch.sparkSession, path)
            merge_latest(target, latest_per_key(accepted, spec.keys, sequence_columns(spec)), spec)
        finally:
            batch.unpersist()

    stream = spark.readStream.format("delta").load(project.table_path(source))
    writer = stream.writeStream.option(
        "checkpointLocation", project.checkpoint_path(table)
    ).queryName(f"silver_{table.name}")
    result = delta_io.for_each_batch_exactly_once(writer, table.ref, handle)
    return RefreshResult(table.ref, rows_read=result.input_rows, rows_rejected=rejected_total)
