"""Writing a model's rows: replacing exactly the keys it rebuilt in one MERGE, or appending a
first build."""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse.config.tables import GoldSpec
from lakehouse.gold.dimensions import with_unknown_member
from lakehouse.storage import delta_tables

_PRESENT = "_present"
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


def _partition_filter(spec: GoldSpec, *frames: DataFrame, alias: str = "t") -> Column | None:
    """Predicate naming the partitions the rows live in, so a scan or MERGE prunes files."""
    if not spec.partition_by:
        return None
    values = (
        reduce(DataFrame.union, (f.select(*spec.partition_by) for f in frames)).distinct().collect()
    )
    return _in_partitions({c: [r[c] for r in values] for c in spec.partition_by}, alias)


def _in_partitions(seen: dict[str, list], alias: str) -> Column:
    condition = None
    for column, values in seen.items():
        known = [v for v in set(values) if v is not None]
        c = F.col(f"{alias}.`{column}`" if alias else f"`{column}`")
        part = c.isin(known) if known else F.lit(False)
        if None in values:
            part = part | c.isNull()
        condition = part if condition is None else condition & part
    return condition


@contextmanager
def commit_metadata(spark: SparkSession, metadata: str | None) -> Iterator[None]:
    """Commits of ``spark`` (a model's own session) made inside carry ``metadata`` (Delta's
    ``userMetadata``): a MERGE has no writer option for it."""
    if metadata is None:
        yield
        return
    spark.conf.set(USER_METADATA, metadata)
    try:
        yield
    finally:
        spark.conf.unset(USER_METADATA)


def merge_keys(
    spark: SparkSession,
    path: str,
    keys: DataFrame,
    rows: DataFrame,
    spec: GoldSpec,
    metadata: str | None = None,
) -> bool:
    """In one commit, make the table's rows for ``keys`` equal ``rows``, deleting rows of those
    keys that are no longer produced. Rows that already hold the same values are left alone,
    so a rerun over unchanged inputs commits nothing; returns whether it committed."""
    if not delta_tables.exists(spark, path):
        create_table(spark, path, spec, rows.schema)
    grain = list(spec.row_key)
    # The rows are compared twice (what changed, what is gone): built once, not once per side,
    # as building them reads the model's inputs. A caller's cache is left to the caller.
    owned = not rows.is_cached
    rows = rows.persist()
    current = _rows_of(DeltaTable.forPath(spark, path).toDF(), keys, spec).persist()
    same = reduce(lambda a, b: a & b, (rows[c].eqNullSafe(current[c]) for c in rows.columns))
    upserts = rows.join(current, on=same, how="left_anti").withColumn(_PRESENT, F.lit(True))
    gone = reduce(lambda a, b: a & b, (current[c].eqNullSafe(rows[c]) for c in grain))
    kept = list(dict.fromkeys([*grain, *spec.partition_by]))
    deletes = current.join(rows, on=gone, how="left_anti").select(*kept)
    source = upserts.unionByName(deletes.dropDuplicates(), allowMissingColumns=True).persist()
    try:
        # One look at the source: whether there is anything to write, and where it goes.
        size, partitions = _size_and_partitions(spec, source)
        if not size:
            return False
        on = reduce(
            lambda a, b: a & b, (F.col(f"t.`{c}`").eqNullSafe(F.col(f"s.`{c}`")) for c in grain)
        )
        if partitions is not None:
            on = on & partitions
        values = {c: F.col(f"s.`{c}`") for c in rows.columns}
        with commit_metadata(spark, metadata):
            (
                DeltaTable.forPath(spark, path)
                .alias("t")
                .merge(source.alias("s"), on)
                .whenMatchedDelete(condition=f"s.{_PRESENT} IS NULL")
                .whenMatchedUpdate(set=values)
                .whenNotMatchedInsert(condition=f"s.{_PRESENT}", values=values)
                .execute()
            )
        return True
    finally:
        source.unpersist()
        current.unpersist()
        if owned:
            rows.unpersist()


def _size_and_partitions(spec: GoldSpec, source: DataFrame) -> tuple[int, Column | None]:
    """How many rows ``source`` has and the condition naming its partitions, in one job."""
    columns = list(spec.partition_by)
    row = source.agg(
        F.count(F.lit(1)).alias("_n"), *(F.collect_set(F.struct(c)).alias(c) for c in columns)
    ).first()
    if not columns or not row["_n"]:
        return row["_n"], None
    return row["_n"], _in_partitions({c: [s[0] for s in row[c]] for c in columns}, alias="t")


def _rows_of(table: DataFrame, keys: DataFrame, spec: GoldSpec) -> DataFrame:
    """The table's rows of ``keys``. A partitioned table is first read for its keys and
    partition columns alone, to find the partitions those keys live in, so the full rows
    (compared twice) are read from those partitions only, not from the whole history."""
    key = list(spec.key)
    if not spec.partition_by:
        return table.join(keys, on=key, how="left_semi")
    located = table.select(*key, *spec.partition_by).join(keys, on=key, how="left_semi")
    partitions = _partition_filter(spec, located, alias="")
    return table.where(partitions).join(keys, on=key, how="left_semi")


def nullable(schema: StructType) -> StructType:
    """The schema without NOT NULL, nested types included: Delta would enforce it (and refuses
    it inside arrays), while an unknown member or a rebuilt key may hold nulls where the first
    rows happened not to."""
    text = schema.json()
    for flag in ("nullable", "containsNull", "valueContainsNull"):
        text = text.replace(f'"{flag}":false', f'"{flag}":true')
    return StructType.fromJson(json.loads(text))


def create_table(spark: SparkSession, path: str, spec: GoldSpec, schema: StructType) -> None:
    delta_tables.ensure_table(
        spark, path, nullable(schema), spec.partition_by, delta_tables.CHANGE_FEED
    )


def append_first_build(
    spark: SparkSession, path: str, rows: DataFrame, spec: GoldSpec, metadata: str | None = None
) -> None:
    """The first build: the model's rows and its unknown member, appended in the one commit
    that creates the table (with its change feed and partitions), so a refresh killed before
    it leaves no table, and one killed after it leaves the whole build.

    ``merge_keys`` would compare every row with a table that holds none of them: several
    times the cost of the write itself on an initial load. Rows go to one file per
    partition, the layout that MERGE would have left.
    """
    rows = with_unknown_member(spark, spec, rows)
    writer = rows.repartition(*spec.partition_by) if spec.partition_by else rows
    writer = writer.write.format("delta").mode("append")
    for key, value in delta_tables.CHANGE_FEED.items():
        writer = writer.option(key, value)
    if spec.partition_by:
        writer = writer.partitionBy(*spec.partition_by)
    if metadata is not None:
        writer = writer.option("userMetadata", metadata)
    writer.save(path)


def overwrite_whole(
    spark: SparkSession, path: str, rows: DataFrame, spec: GoldSpec, metadata: str | None = None
) -> None:
    """Replace the whole table with ``rows`` and the unknown member, in one commit."""
    writer = with_unknown_member(spark, spec, rows).write.format("delta").mode("overwrite")
    if metadata is not None:
        writer = writer.option("userMetadata", metadata)
    writer.save(path)


def sql_literal(value: object) -> str:
    """A key value as SQL, for a replaceWhere predicate (values from the data, typed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def replace_where(
    path: str, column: str, values: list, rows: DataFrame, metadata: str | None = None
) -> None:
    """Overwrite the table's rows whose ``column`` is one of ``values`` with ``rows``, in one
    commit: no comparison with the rows there, and the files of other values stay."""
    known = [v for v in values if v is not None]
    parts = [f"`{column}` IN ({', '.join(map(sql_literal, known))})"] if known else []
    if len(known) < len(values):
        parts.append(f"`{column}` IS NULL")
    predicate = " OR ".join(parts) or "false"
    writer = rows.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if metadata is not None:
        writer = writer.option("userMetadata", metadata)
    writer.save(path)
