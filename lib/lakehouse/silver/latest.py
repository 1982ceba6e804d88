"""The latest version of each key wins: a batch's versions reduced to one per key, then
merged into (or appended to) the table, an older version never replacing a newer one."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse.bronze.columns import (
    ARRIVAL_COLUMNS,
)
from lakehouse.config.tables import SilverSpec
from lakehouse.storage import key_date_layout as layout


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


def merge_latest(
    target: DeltaTable, batch: DataFrame, spec: SilverSpec, narrow: Column | None = None
) -> None:
    """Upsert the batch's latest version per key; an older version never replaces a newer one.

    ``narrow``: a condition on the target alone that every row the batch can match meets (its
    days, see ``silver_layout``), so the MERGE reads only those files. Into a table that holds
    nothing yet, see ``write_latest``."""
    on = F.expr(" AND ".join(f"t.`{k}` = s.`{k}`" for k in spec.keys))
    if narrow is not None:
        on = on & narrow
    # With a business sequence an equal version is a re-send: leave the row (and its lineage) be.
    decisive = spec.sequence_by or ARRIVAL_COLUMNS
    (
        target.alias("t")
        .merge(batch.alias("s"), on)
        .whenMatchedUpdateAll(condition=newer_than("s", "t", decisive))
        .whenNotMatchedInsertAll()
        .execute()
    )


def write_latest(
    path: str, latest: DataFrame, by_key_date: bool = False, monthly: bool = False
) -> None:
    """A batch into an empty table, or of keys the table lacks: its latest versions are new
    rows. Appending them is what a MERGE would do, without the MERGE's first pass, which joins
    the whole batch with the table only to find that no row matches.

    ``by_key_date``: the table is partitioned by key date (its month, or its day: ``monthly``);
    each partition's rows are written by one task, so a batch adds one file per partition
    instead of one per partition and task."""
    if by_key_date:
        latest = layout.by_partition(latest, monthly)
    latest.write.format("delta").mode("append").save(path)


def write_by_key_dates(
    spark: SparkSession, path: str, spec: SilverSpec, latest: DataFrame, monthly: bool
) -> None:
    """Into a table laid out by key date: append when no key of the batch is there yet on its
    key dates, else MERGE reading only those dates."""
    latest = latest.persist()
    try:
        key_dates = layout.key_dates_in(latest)
        target = DeltaTable.forPath(spark, path)
        if not layout.any_key_present(target.toDF(), latest, spec.keys, key_dates):
            write_latest(path, latest, by_key_date=True, monthly=monthly)
            return
        same_date = F.col(f"t.`{layout.KEY_DATE_COLUMN}`").eqNullSafe(
            F.col(f"s.`{layout.KEY_DATE_COLUMN}`")
        )
        narrow = layout.on_key_dates("t", key_dates, monthly) & same_date
        merge_latest(target, latest, spec, narrow)
    finally:
        latest.unpersist()
