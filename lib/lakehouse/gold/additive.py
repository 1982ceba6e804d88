"""The additive strategy: an input's changed rows add their contribution to the model's rows
and take back the contribution of the rows they replaced or deleted, so a late order adds to
its day without the day's other orders being read again.

The model's SQL runs twice over the changes alone, lookups whole: over the new images
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
from lakehouse.gold.build import KeyLiterals, build_model, key_literals, with_derived
from lakehouse.gold.change_sets import CHANGE_COLUMNS, NEW_VERSION
from lakehouse.gold.changes import touched_keys

_SIGN = "_sign"
_CHANGED = "_changed"
_GONE = "_gone_"
STALE = "_stale"


def contribution(
    spark: SparkSession, spec: GoldSpec, inputs: dict[str, DataFrame], changes: DataFrame
) -> DataFrame:
    """Per row of the model: what ``changes`` (the additive input's changed rows) add to its
    measures (negative for rows taken back), with the row's other columns."""
    alias = spec.additive_input
    is_new = F.col("_change_type").isin(*NEW_VERSION)
    measures, extremes = spec.measures.columns, spec.measures.extremes
    new = F.col(_SIGN) == 1

    def signed(rows: DataFrame, sign: int) -> DataFrame:
        out = build_model(spark, spec, {**inputs, alias: rows.drop(*CHANGE_COLUMNS)}, None)
        out = out.drop(*spec.derived)
        return out.select(
            *(
                (F.coalesce(out[c], F.lit(0)) * sign).alias(c) if c in measures else out[c]
                for c in out.columns
            ),
            F.lit(sign).alias(_SIGN),
        )

    both = signed(changes.where(is_new), 1).unionByName(signed(changes.where(~is_new), -1))
    others = [c for c in both.columns if c not in (*spec.row_key, *measures, *extremes, _SIGN)]
    pick = {"min": F.min, "max": F.max}
    summed = both.groupBy(*spec.row_key).agg(
        *(F.sum(m).alias(m) for m in measures),
        # An extreme: the new images' own, and the old images' (the value taken back).
        *(pick[op](F.when(new, F.col(c))).alias(c) for c, op in extremes.items()),
        *(pick[op](F.when(~new, F.col(c))).alias(f"{_GONE}{c}") for c, op in extremes.items()),
        # Lookup columns (a shop's city) are the same in both images: lookups did not change
        # for these keys, or the key is rebuilt instead. The new image's value is taken.
        *(F.max_by(c, F.col(_SIGN)).alias(c) for c in others),
    )
    # A change that moves nothing (a fact re-pointed to a customer's new version, counted in
    # a mart without customers) adds nothing: its row is not rewritten.
    moves = [F.col(m) != 0 for m in measures] + [F.col(c).isNotNull() for c in extremes]
    return summed.where(reduce(lambda a, b: a | b, moves))


def _on(columns: tuple[str, ...]):
    """Rows of aliases ``l`` and ``r`` that agree on ``columns``, nulls included."""
    return reduce(
        lambda a, b: a & b, (F.col(f"l.`{c}`").eqNullSafe(F.col(f"r.`{c}`")) for c in columns)
    )


def _filter(left: DataFrame, right: DataFrame, columns: tuple[str, ...], how: str) -> DataFrame:
    return left.alias("l").join(right.alias("r"), on=_on(columns), how=how)


def added_up(current: DataFrame, change: DataFrame, spec: GoldSpec) -> DataFrame:
    """``current`` (the table's rows of the changed keys) with ``change`` added: measures
    summed, extremes kept as the smaller (larger) of the two, other columns from the change
    where it has the row, derived columns computed again, rows whose count fell to 0 left out.

    With extremes, a column ``_stale`` marks the rows whose extreme was taken back (an old
    image held it) and not given again: their true value is elsewhere in the input, so the
    caller recomputes them.
    """
    measures, extremes = spec.measures.columns, spec.measures.extremes
    types = {f.name: f.dataType for f in current.schema.fields}
    change = change.withColumn(_CHANGED, F.lit(True))
    joined = current.alias("l").join(change.alias("r"), on=_on(spec.row_key), how="full_outer")
    changed = F.col(f"r.{_CHANGED}").isNotNull()

    def column(c: str):
        t, n = F.col(f"l.`{c}`"), F.col(f"r.`{c}`")
        if c in measures:
            value = F.coalesce(t, F.lit(0)) + F.coalesce(n, F.lit(0))
        elif c in extremes:
            value = (F.least if extremes[c] == "min" else F.greatest)(t, n)
        else:
            value = F.when(changed, n).otherwise(t)
        return value.cast(types[c]).alias(c)

    def stale(c: str, op: str):
        held, given, gone = F.col(f"l.`{c}`"), F.col(f"r.`{c}`"), F.col(f"r.`{_GONE}{c}`")
        lost = gone <= held if op == "min" else gone >= held
        regained = given <= held if op == "min" else given >= held
        return gone.isNotNull() & held.isNotNull() & lost & ~F.coalesce(regained, F.lit(False))

    base = [c for c in current.columns if c not in spec.derived]
    marks = [stale(c, op) for c, op in extremes.items()]
    flag = [reduce(lambda a, b: a | b, marks).alias(STALE)] if marks else []
    rows = joined.select(*(column(c) for c in base), *flag)
    rows = rows.where(F.col(spec.measures.count) > 0)
    return with_derived(rows, spec.derived).select(*current.columns, *([STALE] if marks else []))


def additive_rows(
    spark: SparkSession,
    spec: GoldSpec,
    table: DataFrame,
    changes: dict[str, DataFrame],
    inputs: dict[str, DataFrame],
    key_date_exprs: dict[str, str],
) -> tuple[DataFrame, DataFrame, KeyLiterals, list[DataFrame]]:
    """The rows of the keys the changes touch, with the changes added to the rows in
    ``table``: (rows, keys, their literals, DataFrames to unpersist once written). Keys a
    lookup's change touches are rebuilt from the inputs instead."""
    alias = spec.additive_input
    lookups = spec.model_copy(
        update={"changes": {a: c for a, c in spec.changes.items() if a != alias}}
    )
    key = list(spec.key)
    change = contribution(spark, spec, inputs, changes[alias]) if alias in changes else None
    parts, keys, cached = [], [], []
    looked_up = {a: c for a, c in changes.items() if a != alias}
    if looked_up:
        rebuilt = touched_keys(spark, lookups, looked_up, inputs).persist()
        cached.append(rebuilt)
        literals = key_literals(rebuilt, spec, inputs, key_date_exprs)
        if literals.keys:
            parts.append(build_model(spark, spec, inputs, rebuilt, literals))
            keys.append(rebuilt)
            if change is not None:
                change = _filter(change, rebuilt, spec.key, "left_anti")
    if change is not None:
        change = change.persist()
        cached.append(change)
        added = change.select(*key).distinct()
        current = _filter(table, added, spec.key, "left_semi")
        summed = added_up(current, change, spec)
        if spec.measures.extremes:
            summed = summed.persist()
            cached.append(summed)
            stale = summed.where(STALE).select(*key).distinct()
            if stale.take(1):  # an extreme taken back: those keys from their input rows
                parts.append(build_model(spark, spec, inputs, stale, None))
            summed = summed.where(~F.col(STALE)).drop(STALE)
        parts.append(summed)
        keys.append(added)
    if not keys:  # a lookup changed, and no row uses what changed
        return table.limit(0), table.select(*key).limit(0), KeyLiterals(0), cached
    all_keys = reduce(DataFrame.union, keys).distinct().persist()
    cached.append(all_keys)
    rows = reduce(lambda a, b: a.unionByName(b), parts).select(*table.columns)
    return rows, all_keys, key_literals(all_keys, spec, {}, {}), cached
