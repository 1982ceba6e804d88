"""Silver laid out by the business date its keys carry, so that a batch reads and rewrites only
the days it touches.

A key such as ``O20260301-0000042`` carries its order's day; ``key_date`` in the table's YAML
says how to read it. Because it is a function of the key alone, equal keys always fall on the
same day: the MERGE may then compare days as well as keys, and name the batch's days (and
their months) as literals, which Delta turns into partition pruning and file skipping. A batch
whose keys are all absent from its days (events, receipts, a new day's stock) is appended,
with no MERGE at all.

The table is partitioned by the key date's month (``_key_month``), not its day: a MERGE reads
the touched months' files, skipping those whose day statistics miss the batch's days, while a
whole-table read (a change query joining a customer's new version with every order, a
rebuild) opens a dozen files a year instead of 365. A table made with day partitions keeps
them (``monthly`` False) until it is rebuilt.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StructType

KEY_DATE_COLUMN = "_key_date"
KEY_MONTH_COLUMN = "_key_month"
PARTITION_BY = (KEY_MONTH_COLUMN,)
# Rewrites mark deleted rows instead of rewriting whole files: a MERGE that updates a few
# orders of a day leaves the month's file in place.
TABLE_PROPERTIES = {"delta.enableDeletionVectors": "true"}


def is_monthly(columns: list[str]) -> bool:
    """Whether a table (by its columns) is partitioned by month, or by day as it was made."""
    return KEY_MONTH_COLUMN in columns


def with_key_date(df: DataFrame, key_date: str, monthly: bool = True) -> DataFrame:
    """``df`` with its key date (``key_date``: the SQL of the table's YAML) and month."""
    df = df.withColumn(KEY_DATE_COLUMN, F.expr(key_date).try_cast("date"))
    return df.withColumn(KEY_MONTH_COLUMN, F.trunc(KEY_DATE_COLUMN, "MM")) if monthly else df


def layout_schema(schema: StructType) -> StructType:
    return (
        StructType([*schema.fields])
        .add(KEY_DATE_COLUMN, DateType(), True)
        .add(KEY_MONTH_COLUMN, DateType())
    )


def by_partition(latest: DataFrame, monthly: bool) -> DataFrame:
    """Rows to append, one task per partition (one file each), in day order within a month so
    that the file's row groups can be skipped by day."""
    if not monthly:
        return latest.repartition(KEY_DATE_COLUMN)
    return latest.repartition(KEY_MONTH_COLUMN).sortWithinPartitions(KEY_DATE_COLUMN)


def key_dates_in(latest: DataFrame) -> list[date | None]:
    """The key dates a batch's rows fall on (one Spark job)."""
    return [row[0] for row in latest.select(KEY_DATE_COLUMN).distinct().collect()]


def on_key_dates(alias: str, key_dates: list[date | None], monthly: bool = False) -> Column:
    """The rows of ``alias`` (of the one frame, when empty) on ``key_dates``: a null date
    included when they have one. ``monthly``: their months too, which prunes partitions."""

    def col(name: str) -> Column:
        return F.col(f"{alias}.`{name}`" if alias else f"`{name}`")

    def among(column: Column, values: list) -> Column:
        condition = column.isin(values) if values else F.lit(False)
        return condition | column.isNull() if None in key_dates else condition

    known = [d for d in key_dates if d is not None]
    condition = among(col(KEY_DATE_COLUMN), known)
    if monthly:
        condition = condition & among(
            col(KEY_MONTH_COLUMN), sorted({d.replace(day=1) for d in known})
        )
    return condition


def any_key_present(
    target: DataFrame, latest: DataFrame, keys: tuple[str, ...], key_dates: list[date | None]
) -> bool:
    """Whether some key of the batch is already in the table, looking only at its days."""
    monthly = is_monthly(target.columns)
    existing = target.alias("t").where(on_key_dates("t", key_dates, monthly)).select(*keys)
    return not existing.join(latest.select(*keys), list(keys), "left_semi").isEmpty()
