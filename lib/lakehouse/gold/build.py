"""Building a model: its SQL (or DataFrame function) over its inputs, restricted to the keys
that changed; SCD2 validity ranges; the unknown member. DataFrame in, DataFrame out."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class KeyLiterals:
    """What one look at the touched keys tells the scans, where it is little: each key
    column's values, and the key dates each input laid out by key date holds them on."""

    keys: int  # how many keys
    values: dict[str, list] = field(default_factory=dict)  # key column -> its values
    key_dates: dict[str, list] = field(default_factory=dict)  # input alias -> dates (None too)


def build_model(
    spark: SparkSession,
    spec: GoldSpec,
    inputs: dict[str, DataFrame],
    keys: DataFrame | None,
    literals: KeyLiterals | None = None,
) -> DataFrame:
    """Run the model over ``inputs``; with ``keys``, only over the rows behind those keys.

    Inputs that carry the key are restricted to the changed keys; the others (lookups such as
    dimensions) are offered whole. ``literals`` (see ``key_literals``) add the keys' values
    and key dates as literals, which prune partitions and files.
    """
    keyed = set(spec.direct_inputs) & set(inputs) if keys is not None else set()
    offered = {}
    for alias, df in inputs.items():
        if alias in keyed:
            dates = literals.key_dates.get(alias) if literals else None
            if dates is not None:
                df = df.where(on_key_dates("", dates, is_monthly(df.columns)))
            values = literals.values if literals else None
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


def key_literals(
    keys: DataFrame,
    spec: GoldSpec,
    inputs: dict[str, DataFrame],
    key_date_exprs: dict[str, str],
) -> KeyLiterals:
    """Count ``keys`` and collect, in one Spark job, each key column's values and the key dates
    of each input laid out by key date, keeping those that number at most ``FEW_VALUES``.

    A key column's values qualify only for types that come back from Python unchanged (a
    timestamp goes through the Python process's time zone, and an hour repeated at a clock
    change is lost). An input's key dates qualify when its ``key_date`` can be computed from
    the model's key: an order fact keyed by order id reads the order's silver rows, whose day
    is in the id; the same function of the same values gives the same day, so no row of those
    keys is elsewhere. A key whose date cannot be read (None among the dates) can only be on
    the input's rows without one.
    """
    exact = [c for c in spec.key if isinstance(keys.schema[c].dataType, _EXACT_LITERALS)]
    wide, dated = keys, {}
    for alias, key_date in key_date_exprs.items():
        exprs, df = spec.changes.get(alias), inputs.get(alias)
        if not isinstance(exprs, tuple) or df is None or KEY_DATE_COLUMN not in df.columns:
            continue
        if not all(e.isidentifier() and e in df.columns for e in exprs):
            continue
        renamed = {e: k for e, k in zip(exprs, spec.key, strict=True) if e != k}
        if any(e in keys.columns and e not in renamed.values() for e in renamed):
            continue  # the input names a key column as another of the model's: not readable
        try:
            wide = wide.select(
                *wide.columns,
                *(F.col(k).alias(e) for e, k in renamed.items() if e not in wide.columns),
            )
            dated[alias] = F.expr(key_date).try_cast("date")
            wide.select(dated[alias])  # analysed here: it may need columns the key lacks
        except AnalysisException:
            dated.pop(alias, None)
    aggregates = [F.count(F.lit(1)).alias("_keys")]
    aggregates += [F.slice(F.collect_set(c), 1, FEW_VALUES + 1).alias(f"v_{c}") for c in exact]
    for alias, date in dated.items():
        aggregates.append(F.slice(F.collect_set(date), 1, FEW_VALUES + 1).alias(f"d_{alias}"))
        aggregates.append(F.max(date.isNull()).alias(f"n_{alias}"))
    row = wide.agg(*aggregates).first()
    values = {c: list(row[f"v_{c}"]) for c in exact if len(row[f"v_{c}"]) <= FEW_VALUES}
    key_dates = {
        alias: list(row[f"d_{alias}"]) + ([None] if row[f"n_{alias}"] else [])
        for alias in dated
        if len(row[f"d_{alias}"]) <= FEW_VALUES
    }
    return KeyLiterals(row["_keys"], values, key_dates)


def load_transform(ref: str) -> Callable[..., DataFrame]:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
