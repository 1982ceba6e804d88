"""The spellings silver has met for its places, so it can say when one is new.

A place column (``harmonise: city`` or ``country``) folds every spelling to one canonical
spelling (``harmonise``). A batch that brings a spelling other than the canonical one, not
met before in that table and column, gives a warning (it reaches the refresh result and the
run log) and is recorded in one Delta table of the warehouse, ``SPELLINGS`` under the root.
The record is written with the batch's transaction id, like the batch itself, so a batch
replayed after a crash records nothing twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from lakehouse.config.tables import SilverSpec
from lakehouse.silver.harmonise import PLACES, Harmonisers
from lakehouse.storage import delta_tables

# Under the warehouse root, beside the quality results. Not a setting yet (config is being
# reworked): the lead moves it to conf/lakehouse.yaml's quality block.
SPELLINGS = "_quality/spellings"
SHOWN = 10  # spellings named in one warning; the rest are counted

SCHEMA = StructType(
    [
        StructField("table", StringType(), False),
        StructField("column", StringType(), False),
        StructField("spelling", StringType(), False),
        StructField("canonical", StringType(), True),
        StructField("rows", LongType(), False),
        StructField("run_id", StringType(), False),
        StructField("batch_id", LongType(), False),
        StructField("seen_at", TimestampType(), False),
    ]
)
_CREATE = threading.Lock()  # silver tables refreshed side by side share the one table


@dataclass(frozen=True)
class Spelling:
    column: str
    spelling: str
    canonical: str | None
    rows: int


def place_columns(spec: SilverSpec) -> dict[str, tuple[str, str]]:
    """column -> (its source expression, its place harmoniser)."""
    return {
        name: (c.expr or f"`{name}`", c.harmonise)
        for name, c in spec.columns.items()
        if c.harmonise in PLACES
    }


def ensure_table(spark: SparkSession, path: str) -> None:
    with _CREATE:
        delta_tables.ensure_table(spark, path, SCHEMA)


def met(batch: DataFrame, spec: SilverSpec, harmonisers: Harmonisers) -> list[Spelling]:
    """The batch's spellings of its places that are not their canonical spelling."""
    places = place_columns(spec)
    if not places:
        return []
    by_name = harmonisers.by_name()
    pairs = [
        F.struct(
            F.lit(name).alias("column"),
            F.expr(expr).cast("string").alias("spelling"),
            by_name[kind](F.expr(expr)).alias("canonical"),
        )
        for name, (expr, kind) in places.items()
    ]
    found = (
        batch.select(F.explode(F.array(*pairs)).alias("p"))
        .select("p.*")
        .where("spelling IS NOT NULL AND NOT (canonical <=> spelling)")
        .groupBy("column", "spelling", "canonical")
        .count()
        .collect()
    )
    return [Spelling(r.column, r.spelling, r.canonical, r["count"]) for r in found]


def record_new(
    spark: SparkSession,
    path: str,
    table: str,
    spellings: list[Spelling],
    run_id: str,
    batch_id: int,
) -> str | None:
    """Records the spellings the table has not met before; the warning that names them."""
    if not spellings:
        return None
    known = {
        (r.column, r.spelling)
        for r in spark.read.format("delta")
        .load(path)
        .where(F.col("table") == table)
        .select("column", "spelling")
        .collect()
    }
    new = sorted(
        (s for s in spellings if (s.column, s.spelling) not in known),
        key=lambda s: (s.column, -s.rows, s.spelling),
    )
    if not new:
        return None
    now = datetime.now()
    rows = [(table, s.column, s.spelling, s.canonical, s.rows, run_id, batch_id, now) for s in new]
    spark.createDataFrame(rows, SCHEMA).write.format("delta").mode("append").save(path)
    named = ", ".join(
        f"{s.column} {s.spelling!r} -> {s.canonical!r} ({s.rows} row{'s' * (s.rows != 1)})"
        for s in new[:SHOWN]
    )
    more = f" and {len(new) - SHOWN} more" if len(new) > SHOWN else ""
    return f"{len(new)} spellings not met before, harmonised: {named}{more}"
