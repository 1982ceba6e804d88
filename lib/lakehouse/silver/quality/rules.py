"""Row-level Spark checks for the expectation types the suites may use.

Each returns a Column that is true where a row BREAKS the expectation, with the same
semantics as Great Expectations (a null is only unexpected for the null checks; GX leaves
missing values out of every other column-map expectation), so the rows quarantined for a rule
are exactly GX's unexpected rows for it (a test holds both to that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F


def _present_and(column: str, broken: Column) -> Column:
    return F.col(column).isNotNull() & broken


def not_be_null(column: str) -> Column:
    return F.col(column).isNull()


def be_null(column: str) -> Column:
    return F.col(column).isNotNull()


def be_between(
    column: str,
    min_value: Any = None,
    max_value: Any = None,
    strict_min: bool = False,
    strict_max: bool = False,
) -> Column:
    c = F.col(column)
    ok = F.lit(True)
    if min_value is not None:
        ok = ok & ((c > F.lit(min_value)) if strict_min else (c >= F.lit(min_value)))
    if max_value is not None:
        ok = ok & ((c < F.lit(max_value)) if strict_max else (c <= F.lit(max_value)))
    return _present_and(column, ~ok)


def be_in_set(column: str, value_set: list[Any]) -> Column:
    return _present_and(column, ~F.col(column).isin(list(value_set)))


def not_be_in_set(column: str, value_set: list[Any]) -> Column:
    return _present_and(column, F.col(column).isin(list(value_set)))


def match_regex(column: str, regex: str) -> Column:
    return _present_and(column, ~F.col(column).cast("string").rlike(regex))


def value_lengths_be_between(
    column: str,
    min_value: int | None = None,
    max_value: int | None = None,
) -> Column:
    length = F.length(F.col(column).cast("string"))
    ok = F.lit(True)
    if min_value is not None:
        ok = ok & (length >= min_value)
    if max_value is not None:
        ok = ok & (length <= max_value)
    return _present_and(column, ~ok)


ROW_CHECKS: dict[str, Callable[..., Column]] = {
    "expect_column_values_to_not_be_null": not_be_null,
    "expect_column_values_to_be_null": be_null,
    "expect_column_values_to_be_between": be_between,
    "expect_column_values_to_be_in_set": be_in_set,
    "expect_column_values_to_not_be_in_set": not_be_in_set,
    "expect_column_values_to_match_regex": match_regex,
    "expect_column_value_lengths_to_be_between": value_lengths_be_between,
}
