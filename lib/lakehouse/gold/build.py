"""Building a model: its SQL (or DataFrame function) over its inputs, restricted to the keys
that changed; SCD2 validity ranges; the unknown member. DataFrame in, DataFrame out."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import reduce

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    IntegralType,
    StringType,
)

from lakehouse.config.tables import GoldSpec
from lakehouse.storage.key_date_layout import KEY_DATE_COLUMN, is_monthly, on_key_dates

# Up to this many distinct values of a key column are also offered to the scans as literals
# (see restrict); more would bloat every plan, and a literal list of order ids prunes nothing.
FEW_VALUES = 1000
_EXACT_LITERALS = (StringType, DateType, IntegralType, DecimalType, BooleanType)


def restrict(
    df: DataFrame,
    exprs: tuple[str, ...],
    key: tuple[str, ...],
    keys: DataFrame,
    values: dict[str, list] | None = None,
) -> DataFrame:
    """The rows of ``df`` whose key, computed by ``exprs``, is among ``keys``.

    ``values`` (key column -> its distinct values among ``keys``) adds the same condition as
    literals, which Spark pushes into the scan: on a partition column (a fact's order date)
    Delta then reads only those partitions; on another column the filter goes to the Parquet
    reader. The join alone would read the whole input.
    """
    tmp = [f"_key{i}" for i in range(len(key))]
    tagged = df.select("*", *(F.expr(e).alias(t) for e, t in zip(exprs, tmp, strict=True)))
    for t, k in zip(tmp, key, strict=True):
        if values and k in values:
            tagged = tagged.where(F.col(t).isin(values[k]))
    on = reduce(lambda a, b: a & b, (tagged[t] == keys[k] for t, k in zip(tmp, key, strict=True)))
    return tagged.join(keys, on=on, how="left_semi").drop(*tmp)


def build_model(
    spark: SparkSession,
    spec: GoldSpec,
    inputs: dict[str, DataFrame],
    keys: DataFrame | None,
    key_date_exprs: dict[str, str] | None = None,
    values: dict[str, list] | None = None,
) -> DataFrame:
    """Run the model over ``inputs``; with ``keys``, only over the rows behind those keys.

    Inputs that carry the key are restricted to the changed keys; the others (lookups such as
    dimensions) are offered whole. ``key_date_exprs`` (alias -> its silver table's ``key_date``)
    lets an input laid out by key date be read only on the days the keys fall on.
    """
    keyed = (
        {a for a in inputs if isinstance(spec.changes.get(a), tuple)} if keys is not None else set()
    )
    if keyed and values is None:  # the caller may have them already (``few_values``)
        values = few_values(keys, spec.key)
    offered = {}
    for alias, df in inputs.items():
        if alias in keyed:
            days = key_dates_of(
                df, spec.changes[alias], spec.key, keys, (key_date_exprs or {}).get(alias)
            )
            if days is not None:
                df = df.where(on_key_dates("", days, is_monthly(df.columns)))
            df = restrict(df, spec.changes[alias], spec.key, keys, values)
        offered[alias] = df
    if spec.transform:
        rows = load_transform(spec.transform)(**offered, **spec.params)
    else:
        name_views(spark, offered)
        rows = spark.sql(spec.sql)
    return with_derived(rows, spec.derived)


def with_derived(rows: DataFrame, derived: dict[str, str]) -> DataFrame:
    """``rows`` with the model's ``derived`` columns (expressions over its other columns)."""
    if not derived:
        return rows
    clash = sorted(set(derived) & set(rows.columns))
    if clash:
        raise ValueError(f"derived column {clash[0]!r} is also a column of the model's SQL")
    return rows.select("*", *(F.expr(e).alias(n) for n, e in derived.items()))


def key_dates_of(
    df: DataFrame,
    exprs: tuple[str, ...],
    key: tuple[str, ...],
    keys: DataFrame,
    key_date: str | None,
) -> list | None:
    """The days an input laid out by key date holds the rows of ``keys`` on, when its
    ``key_date`` can be computed from the model's keys (an order fact keyed by order id reads
    the order's silver rows, whose day is in the id); None when it cannot.

    The keys are renamed to the input's own columns (the model's ``changes`` must name plain
    columns), then its ``key_date`` is computed over them: the same function of the same
    values gives the same day, so no row of those keys is elsewhere. A key whose day cannot
    be read (None among the days) can only be on the input's rows without a day: a fact
    keyed by order and receipt ids reads an order id with the receipts' ``key_date``.
    """
    if not key_date or KEY_DATE_COLUMN not in df.columns:
        return None
    if not all(e.isidentifier() and e in df.columns for e in exprs):
        return None
    own = keys.select(*(F.col(k).alias(e) for k, e in zip(key, exprs, strict=True)))
    try:
        day = own.select(F.expr(key_date).try_cast("date").alias("day"))
    except AnalysisException:  # it needs columns the model's key does not carry
        return None
    days = [r.day for r in day.distinct().limit(FEW_VALUES + 1).collect()]
    return None if len(days) > FEW_VALUES else days


def name_views(spark: SparkSession, views: dict[str, DataFrame]) -> None:
    """Register ``views`` as the session's temp views of those names.

    An existing view is dropped first, never replaced: replacing a temp view uncaches, in
    every session, each cached plan that reads the old view's plan (the touched keys
    persisted for a batch among them, which Spark would then recompute for every input they
    restrict). Dropping a view made from a DataFrame uncaches only that view's own plan.
    """
    for name, df in views.items():
        spark.catalog.dropTempView(name)
        df.createOrReplaceTempView(name)


def few_values(keys: DataFrame, key: tuple[str, ...]) -> dict[str, list]:
    """Each key column's distinct values among ``keys``, for the columns that have at most
    ``FEW_VALUES`` of them (the days or months a batch touches, not its order ids).

    Only types that come back from Python unchanged qualify: a timestamp goes through the
    local time zone of the Python process, and an hour repeated at a clock change is lost.
    """
    exact = [c for c in key if isinstance(keys.schema[c].dataType, _EXACT_LITERALS)]
    if not exact:
        return {}
    limited = (F.slice(F.collect_set(c), 1, FEW_VALUES + 1).alias(c) for c in exact)
    sets = keys.agg(*limited).first()
    return {c: list(sets[c]) for c in exact if len(sets[c]) <= FEW_VALUES}


def load_transform(ref: str) -> Callable[..., DataFrame]:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
