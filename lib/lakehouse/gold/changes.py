"""Finding what changed: the inputs' Change Data Feed as one stream, and the model keys a
batch of it touches."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Project
from lakehouse.config.tables import ChangeQuery, GoldSpec
from lakehouse.gold.build import name_views
from lakehouse.storage import exactly_once

_INPUT = "_input"
_SEP = "__"
CHANGED_VIEW = "changed"
# A version's rows in the change feed: the first one, then each newer one.
NEW_VERSION = ("insert", "update_postimage")


def change_stream(spark: SparkSession, project: Project, spec: GoldSpec) -> DataFrame:
    """One stream of the changed rows of every input the model watches, each input's columns
    prefixed with its alias so that inputs of different shapes travel together."""
    aliases = list(spec.changes) if spec.incremental else list(spec.inputs)
    streams = []
    for alias in aliases:
        reader = (
            spark.readStream.format("delta")
            .option("readChangeFeed", "true")
            .options(**exactly_once.WHOLE_BACKLOG)
        )
        if spec.scd2:
            # History is in the changes, not in the current rows: a new checkpoint (a rebuild)
            # replays the source's whole feed instead of starting from its latest snapshot.
            reader = reader.option("startingVersion", 0)
        df = reader.load(project.table_path(project.table(spec.inputs[alias])))
        streams.append(
            df.select(
                F.lit(alias).alias(_INPUT),
                *(F.col(f"`{c}`").alias(f"{alias}{_SEP}{c}") for c in df.columns),
            )
        )
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), streams)


def changed_rows(batch: DataFrame, alias: str) -> DataFrame:
    """One input's rows of a batch of ``change_stream``, with their own column names."""
    prefix = f"{alias}{_SEP}"
    return batch.where(F.col(_INPUT) == alias).select(
        *(F.col(f"`{c}`").alias(c[len(prefix) :]) for c in batch.columns if c.startswith(prefix))
    )


def inputs_in(batch: DataFrame) -> set[str]:
    """The aliases of the inputs that have rows in a batch of ``change_stream``."""
    return {row[0] for row in batch.select(_INPUT).distinct().collect()}


def touched_keys(
    spark: SparkSession, spec: GoldSpec, batch: DataFrame, inputs: dict[str, DataFrame]
) -> DataFrame:
    """The model keys the batch's changes touch, without nulls or repeats.

    A change query joins an input's changes with whole inputs (a new customer version with
    every order of the year): it runs only when the batch holds changes of that input, which
    one look at the batch decides. Otherwise it keeps its place as an empty relation.
    """
    changed: set[str] = set()
    if any(isinstance(c, ChangeQuery) for c in spec.changes.values()):
        name_views(spark, inputs)
        changed = inputs_in(batch)
    parts = []
    for alias, change in spec.changes.items():
        rows = changed_rows(batch, alias)
        if isinstance(change, ChangeQuery):
            name_views(spark, {CHANGED_VIEW: rows})
            keys = spark.sql(change.sql).toDF(*spec.key)
            parts.append(keys if alias in changed else keys.limit(0))
        else:
            parts.append(
                rows.select(*(F.expr(e).alias(k) for e, k in zip(change, spec.key, strict=True)))
            )
    keys = reduce(lambda a, b: a.unionByName(b), parts)
    return keys.where(" AND ".join(f"`{k}` IS NOT NULL" for k in spec.key)).distinct()
