"""The model keys a refresh's changes touch: for an input that carries the key, the key
columns of its changed rows; for a lookup (a dimension), its change query, which maps the
lookup's changed rows to the keys they affect."""

from __future__ import annotations

import re
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, NumericType

from lakehouse.config.tables import ChangeQuery, GoldSpec
from lakehouse.gold.build import name_views

CHANGED_VIEW = "changed"


def touched_keys(
    spark: SparkSession,
    spec: GoldSpec,
    changes: dict[str, DataFrame],
    inputs: dict[str, DataFrame],
) -> DataFrame:
    """The model keys that ``changes`` (alias -> that input's changed rows, only for inputs
    that changed) touch, without nulls or repeats.

    A change query joins an input's changes with whole inputs (a new customer version with
    every order of the year): it runs only for an input that changed, which the plan knows,
    and its ``params`` (one small query each over the changed rows) bound what it reads.
    """
    parts = []
    for alias, change in spec.changes.items():
        if alias not in changes:
            continue
        if isinstance(change, ChangeQuery):
            name_views(spark, {**inputs, CHANGED_VIEW: changes[alias]})
            parts.append(spark.sql(bound_sql(spark, change)).toDF(*spec.key))
        else:
            keyed = (F.expr(e).alias(k) for e, k in zip(change, spec.key, strict=True))
            parts.append(changes[alias].select(*keyed))
    if not parts:
        return spark.createDataFrame([], _key_schema(spec, inputs))
    keys = reduce(lambda a, b: a.unionByName(b), parts)
    return keys.where(" AND ".join(f"`{k}` IS NOT NULL" for k in spec.key)).distinct()


def bound_sql(spark: SparkSession, change: ChangeQuery) -> str:
    """The change query with each ``:name`` replaced by its value as a SQL literal: a
    boolean or a number bare, anything else (a day, a time) as text.

    Values are turned into text by Spark (in the session's time zone, never Python's) and
    written into the SQL: a bound parameter (``spark.sql(args=...)``) is left unbound over
    Delta scans here, and a literal is what lets the scans prune their files.
    """
    values = {}
    for name, sql in change.params.items():
        found = spark.sql(sql)
        column = found.schema.fields[0]
        value = found.select(F.col(f"`{column.name}`").cast("string")).first()[0]
        bare = isinstance(column.dataType, BooleanType | NumericType)  # true, 42: unquoted
        if value is None:
            values[name] = "NULL"
        elif bare:
            values[name] = value
        else:
            values[name] = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if not values:
        return change.sql
    names = "|".join(map(re.escape, sorted(values, key=len, reverse=True)))
    return re.sub(rf":({names})\b", lambda m: values[m.group(1)], change.sql)


def _key_schema(spec: GoldSpec, inputs: dict[str, DataFrame]) -> str:
    alias = spec.direct_inputs[0]
    typed = inputs[alias].select(
        *(F.expr(e).alias(k) for e, k in zip(spec.changes[alias], spec.key, strict=True))
    )
    return typed.schema.simpleString()[len("struct<") : -1]
