"""Silver laid out by the business date its keys carry, so that a batch reads and rewrites only
the days it touches.

A key such as ``O20260301-0000042`` carries its order's day; ``key_date`` in the table's YAML
says how to read it. Because it is a function of the key alone, equal keys always fall on the
same day: the MERGE may then compare days as well as keys, and name the batch's days as
literals, which Delta turns into partition pruning. A batch whose keys are all absent from
its days (events, receipts, a new day's stock) is appended, with no MERGE at all.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StructType

from lakehouse.config.model import SilverSpec

KEY_DATE = "_key_date"
# Rewrites mark deleted rows instead of rewriting whole files: a MERGE that updates a few
# orders of a day leaves the day's file in place.
TABLE_PROPERTIES = {"delta.enableDeletionVectors": "true"}


def with_key_date(df: DataFrame, spec: SilverSpec) -> DataFrame:
    return df.withColumn(KEY_DATE, F.expr(spec.key_date).try_cast("date"))


def layout_schema(schema: StructType) -> StructType:
    return StructType([*schema.fields]).add(KEY_DATE, DateType(), True)


def batch_days(latest: DataFrame) -> list[date | None]:
    return [row[0] for row in latest.select(KEY_DATE).distinct().collect()]


def on_days(alias: str, days: list[date | None]) -> Column:
    """The rows of ``alias`` (of the one frame, when empty) on ``days``: a null day included
    when the days have one."""
    column = F.col(f"{alias}.`{KEY_DATE}`" if alias else f"`{KEY_DATE}`")
    known = [d for d in days if d is not None]
    condition = column.isin(known) if known else F.lit(False)
    return condition | column.isNull() if None in days else condition


def any_key_present(
    target: DataFrame, latest: DataFrame, keys: tuple[str, ...], days: list[date | None]
) -> bool:
    """Whether some key of the batch is already in the table, looking only at its days."""
    existing = target.alias("t").where(on_days("t", days)).select(*keys)
    return not existing.join(latest.select(*keys), list(keys), "left_semi").isEmpty()
