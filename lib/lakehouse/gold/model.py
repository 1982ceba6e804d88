"""Building a model: its SQL (or DataFrame function) over its inputs, restricted to the keys
that changed; SCD2 validity ranges; the unknown member. DataFrame in, DataFrame out."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import reduce

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    IntegralType,
    StringType,
    StructType,
)

from lakehouse.config.model import GoldSpec, Scd2Spec
from lakehouse.silver_layout import KEY_DATE, is_monthly, on_days

SEQ = "_seq"
# export of its customer still finds one; the open version is valid until the end of time.
BEGINNING_OF_TIME = "1900-01-01 00:00:00"
END_OF_TIME = "9999-12-31 00:00:00"
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
    key_dates: dict[str, str] | None = None,
    values: dict[str, list] | None = None,
) -> DataFrame:
    """Run the model over ``inputs``; with ``keys``, only over the rows behind those keys.

    Inputs that carry the key are restricted to the changed keys; the others (lookups such as
    dimensions) are offered whole. ``key_dates`` (alias -> its silver table's ``key_date``)
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
            days = key_days(df, spec.changes[alias], spec.key, keys, (key_dates or {}).get(alias))
            if days is not None:
                df = df.where(on_days("", days, is_monthly(df.columns)))
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


def key_days(
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
    if not key_date or KEY_DATE not in df.columns:
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


def scd2_history(versions: DataFrame, key: tuple[str, ...], scd2: Scd2Spec) -> DataFrame:
    """Collapse versions of each key into validity ranges.

    ``versions`` holds the model's columns, one row per version as delivered, plus ``_seq``
    (a later delivery of the same key and time wins). A new version begins only where a
    tracked column differs from the version before; the other columns take the latest
    version's value in every version (type 1). The result is the same whether the versions
    arrive at once or day by day with the previous result fed back in, which is what makes
    the incremental run equal a rebuild.
    """
    vf = scd2.valid_from
    vf_type = versions.schema[vf].dataType
    begin, end = F.lit(BEGINNING_OF_TIME).cast(vf_type), F.lit(END_OF_TIME).cast(vf_type)
    columns = [c for c in versions.columns if c != SEQ]
    type1 = [c for c in columns if c not in (*key, vf, *scd2.track)]

    latest = Window.partitionBy(*key, vf).orderBy(F.col(SEQ).desc())
    by_time = Window.partitionBy(*key).orderBy(vf)
    whole = by_time.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    tracked = F.struct(*scd2.track)
    changes = (
        versions.withColumn(vf, F.coalesce(F.col(vf), begin))
        .withColumn("_n", F.row_number().over(latest))
        .where("_n = 1")
        .select(
            *(F.last(c).over(whole).alias(c) if c in type1 else F.col(c) for c in columns),
            (F.lag(tracked).over(by_time).eqNullSafe(tracked)).alias("_same"),
        )
        .where(~F.coalesce("_same", F.lit(False)))
        .drop("_same")
    )
    ranged = changes.select(
        *columns,
        F.coalesce(F.lead(vf).over(by_time), end).alias("valid_to"),
        F.row_number().over(by_time).alias("_n"),
    ).withColumn(vf, F.when(F.col("_n") == 1, begin).otherwise(F.col(vf)))
    return ranged.select(
        F.xxhash64(*key, vf).alias(scd2.version_key),
        *columns,
        "valid_to",
        (F.col("valid_to") == end).alias("is_current"),
    )


def unknown_member(spark: SparkSession, spec: GoldSpec, schema: StructType) -> DataFrame | None:
    """The row facts point to when their dimension member is missing."""
    if not spec.unknown:
        return None
    values = dict(spec.unknown)
    if spec.scd2:
        values.setdefault(spec.scd2.valid_from, BEGINNING_OF_TIME)
        values.setdefault("valid_to", END_OF_TIME)
        values.setdefault("is_current", "true")
    row = [
        F.lit(values.get(f.name)).cast(f.dataType).alias(f.name) for f in schema.fields
    ]  # a null is cast too, so the row has the table's exact types
    return spark.range(1).select(*row)


def with_unknown_member(spark: SparkSession, spec: GoldSpec, rows: DataFrame) -> DataFrame:
    unknown = unknown_member(spark, spec, rows.schema)
    return rows if unknown is None else rows.unionByName(unknown)
