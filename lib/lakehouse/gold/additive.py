"""The additive strategy: a batch's changed input rows add their contribution to the model's
rows and take back the contribution of the rows they replaced or deleted, so a late order
adds to its day without the day's other orders being read again.

The model's SQL runs twice over the batch alone, lookups whole: over the new images
(inserts, update post-images) and over the old ones (deletes, update pre-images). Summed per
row with signs, that is each row's change; added to the row in the table (a row whose count
falls to 0 is gone), it gives what the SQL over the whole input gives, for sums and counts.
Keys that a lookup's change touches (a shop renamed) are rebuilt from the inputs instead.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config.tables import GoldSpec
from lakehouse.gold.build import build_model, few_values, with_derived
from lakehouse.gold.changes import NEW_VERSION, changed_rows, touched_keys
from lakehouse.gold.writers import write_touched_keys

_SIGN = "_sign"
_CHANGED = "_changed"
_CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")


def contribution(
    spark: SparkSession, spec: GoldSpec, inputs: dict[str, DataFrame], batch: DataFrame
) -> DataFrame:
    """Per row of the model: what the batch's changes of the additive input add to its
    measures (negative for rows taken back), with the row's other columns."""
    alias = spec.additive_input
    changes = changed_rows(batch, alias)
    is_new = F.col("_change_type").isin(*NEW_VERSION)
    measures = spec.measures.columns

    def signed(rows: DataFrame, sign: int) -> DataFrame:
        out = build_model(spark, spec, {**inputs, alias: rows.drop(*_CDF_COLUMNS)}, None)
        out = out.drop(*spec.derived)
        return out.select(
            *(
                (F.coalesce(out[c], F.lit(0)) * sign).alias(c) if c in measures else out[c]
                for c in out.columns
            ),
            F.lit(sign).alias(_SIGN),
        )

    both = signed(changes.where(is_new), 1).unionByName(signed(changes.where(~is_new), -1))
    others = [c for c in both.columns if c not in (*spec.row_key, *measures, _SIGN)]
    return both.groupBy(*spec.row_key).agg(
        *(F.sum(m).alias(m) for m in measures),
        # Lookup columns (a shop's city) are the same in both images: lookups did not change
        # for these keys, or the key is rebuilt instead. The new image's value is taken.
        *(F.max_by(c, F.col(_SIGN)).alias(c) for c in others),
    )


def _on(columns: tuple[str, ...]):
    """Rows of aliases ``l`` and ``r`` that agree on ``columns``, nulls included."""
    return reduce(
        lambda a, b: a & b, (F.col(f"l.`{c}`").eqNullSafe(F.col(f"r.`{c}`")) for c in columns)
    )


def _filter(left: DataFrame, right: DataFrame, columns: tuple[str, ...], how: str) -> DataFrame:
    return left.alias("l").join(right.alias("r"), on=_on(columns), how=how)


def added_up(current: DataFrame, change: DataFrame, spec: GoldSpec) -> DataFrame:
    """``current`` (the table's rows of the changed keys) with ``change`` added: measures
    summed, other columns from the change where it has the row, derived columns computed
    again, rows whose count fell to 0 left out."""
    measures = spec.measures.columns
    types = {f.name: f.dataType for f in current.schema.fields}
    change = change.withColumn(_CHANGED, F.lit(True))
    joined = current.alias("l").join(change.alias("r"), on=_on(spec.row_key), how="full_outer")
    changed = F.col(f"r.{_CHANGED}").isNotNull()

    def column(c: str):
        t, n = F.col(f"l.`{c}`"), F.col(f"r.`{c}`")
        if c in measures:
            value = F.coalesce(t, F.lit(0)) + F.coalesce(n, F.lit(0))
        else:
            value = F.when(changed, n).otherwise(t)
        return value.cast(types[c]).alias(c)

    base = [c for c in current.columns if c not in spec.derived]
    rows = joined.select(*(column(c) for c in base)).where(F.col(spec.measures.count) > 0)
    return with_derived(rows, spec.derived).select(*current.columns)


def refresh_additive(
    spark: SparkSession,
    path: str,
    spec: GoldSpec,
    batch: DataFrame,
    inputs: dict[str, DataFrame],
    key_date_exprs: dict[str, str],
) -> int:
    """Add the batch's changes to the table at ``path`` in one commit (a MERGE, or a
    ``replaceWhere`` of the touched days for a model keyed by day); return the keys written.
    Keys a lookup's change touches are rebuilt from the inputs."""
    alias = spec.additive_input
    lookups = spec.model_copy(
        update={"changes": {a: c for a, c in spec.changes.items() if a != alias}}
    )
    key = list(spec.key)
    change = contribution(spark, spec, inputs, batch)
    table = spark.read.format("delta").load(path)
    parts, keys, cached = [], [], []
    try:
        if lookups.changes:
            rebuilt = touched_keys(spark, lookups, batch, inputs).persist()
            cached.append(rebuilt)
            if not rebuilt.isEmpty():
                values = few_values(rebuilt, spec.key)
                parts.append(build_model(spark, spec, inputs, rebuilt, key_date_exprs, values))
                keys.append(rebuilt)
                change = _filter(change, rebuilt, spec.key, "left_anti")
        change = change.persist()
        cached.append(change)
        added = change.select(*key).distinct()
        current = _filter(table, added, spec.key, "left_semi")
        parts.append(added_up(current, change, spec))
        keys.append(added)
        all_keys = reduce(DataFrame.union, keys).distinct().persist()
        cached.append(all_keys)
        rows = reduce(lambda a, b: a.unionByName(b), parts).select(*table.columns)
        return write_touched_keys(spark, path, spec, all_keys, rows, few_values(all_keys, spec.key))
    finally:
        for df in cached:
            df.unpersist()
