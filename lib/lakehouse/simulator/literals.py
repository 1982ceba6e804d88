"""Driver-side values as one Spark literal: an array of a few thousand numbers built with
``F.array(*[F.lit(v) ...])`` costs a py4j round trip per value, and the simulator builds
hundreds of them a day. ``literal_array`` writes the array as SQL, parsed in one call, with
the types ``F.lit`` would give (int, bigint, double, string, boolean, arrays of them)."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F

INT_MAX = 2**31 - 1


def sql_value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -INT_MAX - 1 <= value <= INT_MAX else f"{value}L"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"CAST('{value}' AS DOUBLE)"
        return f"{value!r}D"
    if isinstance(value, list | tuple):
        return "array(" + ", ".join(map(sql_value, value)) + ")"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}: {value!r}")


def literal_array(values: Iterable[object]) -> Column:
    """``values`` as an array column, in one py4j call."""
    return F.expr("array(" + ", ".join(map(sql_value, values)) + ")")
