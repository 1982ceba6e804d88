"""Gold: models declared as SQL over their inputs, rebuilt only for the keys that changed.

A model names the column of each input that carries its key (``changes``). The keys touched
since the last run come from the inputs' Change Data Feed; the model's SQL then runs over the
inputs restricted to those keys, and the result replaces exactly those keys in the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse import delta_io
from lakehouse.config import Project, Table
from lakehouse.config.model import GoldSpec

_PRESENT = "_present"


def build_model(
    spark: SparkSession, spec: GoldSpec, inputs: dict[str, DataFrame], keys: DataFrame | None
) -> DataFrame:
    """Run the model's SQL over ``inputs``; with ``keys``, only over the rows behind those keys.

    Inputs that carry the key are restricted to the changed keys; the others (lookups such as
    dimensions) are offered whole.
    """
    for alias, df in inputs.items():
        if keys is not None and alias in spec.changes:
            on = [df[c] == keys[k] for c, k in zip(spec.changes[alias], spec.key, strict=True)]
            df = df.join(keys, on=reduce(lambda a, b: a & b, on), how="left_semi")
        df.createOrReplaceTempView(alias)
    return spark.sql(spec.sql)


def changed_keys(spark: SparkSession, project: Project, table: Table) -> DataFrame:
    """A stream of the model's key values touched in any input since the last run."""
    spec: GoldSpec = table.spec
    streams = [
        spark.readStream.format("delta")
        .option("readChangeFeed", "true")
        .load(project.table_path(project.table(spec.inputs[alias])))
        .select(*(F.col(c).alias(k) for c, k in zip(columns, spec.key, strict=True)))
        for alias, columns in spec.changes.items()
    ]
    return reduce(DataFrame.unionByName, streams)


def replace_keys(
    spark: SparkSession, path: str, keys: DataFrame, rows: DataFrame, spec: GoldSpec
) -> None:
    """In one commit, make the table's rows for ``keys`` equal ``rows``, deleting keys that no
    longer produce a row. Rows that already hold the same values are left alone, so a rerun
    over unchanged inputs commits nothing."""
    if not delta_io.exists(spark, path):
        delta_io.ensure_table(spark, path, rows.schema, spec.partition_by, delta_io.CHANGE_FEED)
    key = list(spec.key)
    current = DeltaTable.forPath(spark, path).toDF().join(keys, on=key, how="left_semi")
    same = reduce(lambda a, b: a & b, (rows[c].eqNullSafe(current[c]) for c in rows.columns))
    upserts = rows.join(current, on=same, how="left_anti").withColumn(_PRESENT, F.lit(True))
    deletes = keys.join(rows, on=key, how="left_anti").join(current, on=key, how="left_semi")
    source = upserts.unionByName(deletes, allowMissingColumns=True)
    if source.isEmpty():
        return
    values = {c: F.col(f"s.`{c}`") for c in rows.columns}
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), " AND ".join(f"t.`{k}` = s.`{k}`" for k in key))
        .whenMatchedDelete(condition=f"s.{_PRESENT} IS NULL")
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(condition=f"s.{_PRESENT}", values=values)
        .execute()
    )


@dataclass(frozen=True)
class RefreshResult:
    table: str
    keys_changed: int


def refresh(spark: SparkSession, project: Project, table: Table, run_id: str) -> RefreshResult:
    spec: GoldSpec = table.spec
    path = project.table_path(table)
    changed_total = 0

    def handle(batch: DataFrame, batch_id: int) -> None:
        nonlocal changed_total
        # The batch's own session carries the idempotent-write settings of this micro-batch.
        session = batch.sparkSession
        keys = batch.where(" AND ".join(f"`{k}` IS NOT NULL" for k in spec.key)).distinct()
        keys = keys.persist()
        try:
            changed_total += keys.count()
            inputs = {
                alias: session.read.format("delta").load(project.table_path(project.table(ref)))
                for alias, ref in spec.inputs.items()
            }
            replace_keys(session, path, keys, build_model(session, spec, inputs, keys), spec)
        finally:
            keys.unpersist()

    writer = (
        changed_keys(spark, project, table)
        .writeStream.option("checkpointLocation", project.checkpoint_path(table))
        .queryName(f"gold_{table.name}")
    )
    delta_io.for_each_batch_exactly_once(writer, table.ref, handle)
    return RefreshResult(table.ref, keys_changed=changed_total)
