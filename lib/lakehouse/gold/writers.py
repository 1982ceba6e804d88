"""Writing a model's rows: replacing exactly the keys it rebuilt in one MERGE, or appending a
first build."""

from __future__ import annotations

import datetime
import decimal
import json
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse.config.tables import GoldSpec
from lakehouse.gold.dimensions import unknown_member, with_unknown_member
from lakehouse.storage import delta_tables

_PRESENT = "_present"


def _partition_filter(spec: GoldSpec, *frames: DataFrame, alias: str = "t") -> Column | None:
    """Predicate naming the partitions the rows live in, so a scan or MERGE prunes files."""
    if not spec.partition_by:
        return None
    values = (
        reduce(DataFrame.union, (f.select(*spec.partition_by) for f in frames)).distinct().collect()
    )
    condition = None
    for column in spec.partition_by:
        seen = {r[column] for r in values}
        known = [v for v in seen if v is not None]
        c = F.col(f"{alias}.`{column}`" if alias else f"`{column}`")
        part = c.isin(known) if known else F.lit(False)
        if None in seen:
            part = part | c.isNull()
        condition = part if condition is None else condition & part
    return condition


def merge_keys(
    spark: SparkSession, path: str, keys: DataFrame, rows: DataFrame, spec: GoldSpec
) -> None:
    """In one commit, make the table's rows for ``keys`` equal ``rows``, deleting rows of those
    keys that are no longer produced. Rows that already hold the same values are left alone,
    so a rerun over unchanged inputs commits nothing."""
    if not delta_tables.exists(spark, path):
        create_table(spark, path, spec, rows.schema)
    grain = list(spec.row_key)
    # The rows are compared twice (what changed, what is gone): built once, not once per side,
    # as building them reads the model's inputs. A caller's cache is left to the caller
    # (rebuild_whole counts the keys afterwards).
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
        if source.isEmpty():
            return
        on = reduce(
            lambda a, b: a & b, (F.col(f"t.`{c}`").eqNullSafe(F.col(f"s.`{c}`")) for c in grain)
        )
        partitions = _partition_filter(spec, source)
        if partitions is not None:
            on = on & partitions
        values = {c: F.col(f"s.`{c}`") for c in rows.columns}
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(source.alias("s"), on)
            .whenMatchedDelete(condition=f"s.{_PRESENT} IS NULL")
            .whenMatchedUpdate(set=values)
            .whenNotMatchedInsert(condition=f"s.{_PRESENT}", values=values)
            .execute()
        )
    finally:
        source.unpersist()
        current.unpersist()
        if owned:
            rows.unpersist()


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


def ensure_model_table(spark: SparkSession, path: str, spec: GoldSpec, schema: StructType) -> bool:
    """Create the table (so that models reading it can start) with its unknown member; True
    when the table holds nothing but that yet."""
    if not delta_tables.exists(spark, path):
        create_table(spark, path, spec, schema)
    if delta_tables.current_version(spark, path) != 0:
        return False
    unknown = unknown_member(spark, spec, schema)
    if unknown is not None:
        unknown.write.format("delta").mode("append").save(path)
    return True


def append_first_build(spark: SparkSession, path: str, rows: DataFrame, spec: GoldSpec) -> None:
    """The first build of a table that does not exist or holds only its unknown member
    (``ensure_model_table``): append the model's rows in one commit, with the unknown member
    when the table is created here.

    ``merge_keys`` would compare every row with a table that holds none of them: collect
    all keys, stage the rows a second time and join them with the table in a MERGE, several
    times the cost of the write itself on an initial load. Rows go to one file per
    partition, the layout that MERGE would have left.
    """
    if not delta_tables.exists(spark, path):
        create_table(spark, path, spec, rows.schema)
        rows = with_unknown_member(spark, spec, rows)
    if spec.partition_by:
        rows = rows.repartition(*spec.partition_by)
    rows.write.format("delta").mode("append").save(path)


def replaces_by_key_value(spec: GoldSpec) -> bool:
    """Whether touched keys are written by replacing their rows (see ``GoldSpec.strategy``);
    an additive model's rows are written the same way as another model's of its shape."""
    if spec.strategy in ("merge", "replace"):
        return spec.strategy == "replace"
    return len(spec.key) == 1 and bool(spec.grain) and not spec.scd2 and not spec.unknown


def write_touched_keys(
    spark: SparkSession,
    path: str,
    spec: GoldSpec,
    keys: DataFrame,
    rows: DataFrame,
    literals: dict[str, list],
) -> int:
    """Make the table's rows of ``keys`` equal ``rows`` by the model's strategy: replace them
    (``replaceWhere`` on the key's values, ``literals``) or merge them; return the keys."""
    values = literals.get(spec.key[0]) if replaces_by_key_value(spec) else None
    if values is not None:
        replace_where(path, spec.key[0], values, rows)
        return len(values)
    merge_keys(spark, path, keys, rows, spec)
    return keys.count()


def sql_literal(value: object) -> str:
    """A key value as SQL, for a replaceWhere predicate (values from the data, typed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def replace_where(path: str, column: str, values: list, rows: DataFrame) -> None:
    """Overwrite the table's rows whose ``column`` is one of ``values`` with ``rows``, in one
    commit: no comparison with the rows there, and the files of other values stay."""
    known = [v for v in values if v is not None]
    parts = [f"`{column}` IN ({', '.join(map(sql_literal, known))})"] if known else []
    if len(known) < len(values):
        parts.append(f"`{column}` IS NULL")
    predicate = " OR ".join(parts) or "false"
    rows.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(path)
