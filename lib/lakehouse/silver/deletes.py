"""Deletes in silver: a source row that says "this key is gone" removes the key.

A silver table opts in with ``deleted_when:``, a SQL condition over its bronze columns: a
soft-delete column (``deleted_at IS NOT NULL``) or the tombstones a JDBC source's key
comparison lands (``_source_deleted``). A delete is a version like any other: it wins only
if it is the latest for its key, and it skips the quality rules (it has no values to judge).
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.config.tables import SilverSpec

DELETED = "_deleted"


def flag(batch: DataFrame, spec: SilverSpec) -> DataFrame:
    """The bronze batch with ``_deleted`` computed from the declared condition."""
    if not spec.deleted_when:
        return batch
    return batch.withColumn(DELETED, F.coalesce(F.expr(spec.deleted_when), F.lit(False)))


def split(typed: DataFrame) -> tuple[DataFrame, DataFrame | None]:
    """Live rows (to be judged by the rules) and deletes (which are not)."""
    if DELETED not in typed.columns:
        return typed, None
    return typed.where(~F.col(DELETED)).drop(DELETED), typed.where(F.col(DELETED))


def rejoin(good: DataFrame, deletes: DataFrame | None) -> DataFrame:
    if deletes is None:
        return good
    return good.withColumn(DELETED, F.lit(False)).unionByName(
        deletes.select(*good.columns, DELETED)
    )


def without_deletes(latest: DataFrame) -> DataFrame:
    if DELETED not in latest.columns:
        return latest
    return latest.where(~F.col(DELETED)).drop(DELETED)


def merge(target: DeltaTable, latest: DataFrame, keys: tuple[str, ...], newer: str) -> None:
    """Upsert live rows and delete keys whose latest version is a delete, each only when newer
    than what the table holds."""
    columns = [c for c in latest.columns if c != DELETED]
    values = {f"`{c}`": f"s.`{c}`" for c in columns}
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    (
        target.alias("t")
        .merge(latest.alias("s"), on)
        .whenMatchedDelete(condition=f"s.{DELETED} AND ({newer})")
        .whenMatchedUpdate(condition=f"NOT s.{DELETED} AND ({newer})", set=values)
        .whenNotMatchedInsert(condition=f"NOT s.{DELETED}", values=values)
        .execute()
    )
