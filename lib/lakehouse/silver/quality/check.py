"""Evaluate a suite over a batch in one pass: which rules each row breaks, counts per rule,
and whether the batch may go on."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.bronze.columns import CORRUPT_RECORD
from lakehouse.config.expectations import Suite
from lakehouse.errors import DataQualityError
from lakehouse.silver.quality.rules import ROW_CHECKS

RULES = "_rules"
MALFORMED = "malformed"
MISSING_KEY = "missing_key"


@dataclass(frozen=True)
class RuleOutcome:
    rule: str
    expectation_type: str
    column: str | None
    action: str
    evaluated: int
    failed: int


def structural_problem(df: DataFrame, keys: tuple[str, ...]) -> Column:
    """The reason a row cannot be judged at all: its line did not parse, or its key is incomplete."""
    missing_key = F.lit(False)
    for key in keys:
        missing_key = missing_key | F.col(key).isNull()
    malformed = F.col(CORRUPT_RECORD).isNotNull() if CORRUPT_RECORD in df.columns else F.lit(False)
    return F.when(malformed, F.lit(MALFORMED)).when(missing_key, F.lit(MISSING_KEY))


def flag(df: DataFrame, suite: Suite | None, keys: tuple[str, ...]) -> DataFrame:
    """Add ``_rules``: every rule the row breaks. A row with a structural problem gets only
    that reason; the suite's rules judge the rows that could be read."""
    structural = structural_problem(df, keys)
    broken = [
        F.when(structural.isNull() & ROW_CHECKS[e.type](**e.kwargs), F.lit(e.name))
        for e in (suite.expectations if suite else ())
    ]
    return df.withColumn(RULES, F.array_compact(F.array(structural, *broken)))


def outcomes(flagged: DataFrame, suite: Suite | None) -> tuple[int, int, list[RuleOutcome]]:
    """(rows in the batch, rows leaving it, one outcome per rule incl. the structural ones),
    in one aggregation."""
    entries = suite.expectations if suite else ()
    names = [MALFORMED, MISSING_KEY, *(e.name for e in entries)]
    row = flagged.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(quarantined(suite).cast("long")).alias("leaving"),
        *(
            F.sum(F.array_contains(F.col(RULES), n).cast("long")).alias(f"r{i}")
            for i, n in enumerate(names)
        ),
    ).first()
    total = row["rows"]
    failed = {n: row[f"r{i}"] or 0 for i, n in enumerate(names)}
    judged = total - failed[MALFORMED] - failed[MISSING_KEY]
    results = [
        RuleOutcome(MALFORMED, "structural", None, "quarantine", total, failed[MALFORMED]),
        RuleOutcome(MISSING_KEY, "structural", None, "quarantine", total, failed[MISSING_KEY]),
    ]
    results += [
        RuleOutcome(e.name, e.type, e.kwargs.get("column"), e.meta.action, judged, failed[e.name])
        for e in entries
    ]
    return total, row["leaving"] or 0, results


def stop_if_failed(table: str, suite: Suite | None, results: list[RuleOutcome]) -> None:
    """Raise before anything is written when a fail rule is broken or a threshold exceeded."""
    meta = {e.name: e.meta for e in (suite.expectations if suite else ())}
    problems = []
    for r in results:
        m = meta.get(r.rule)
        if m is None or r.failed == 0:
            continue
        share = r.failed / r.evaluated if r.evaluated else 0.0
        if m.action == "fail":
            problems.append(f"{r.rule}: {r.failed} of {r.evaluated} rows break it (action fail)")
        elif m.fail_above is not None and share > m.fail_above:
            problems.append(
                f"{r.rule}: {r.failed} of {r.evaluated} rows ({share:.1%}) break it, "
                f"more than the {m.fail_above:.1%} allowed"
            )
    if problems:
        raise DataQualityError(
            f"{table}: data-quality rule failed, nothing written: " + "; ".join(problems)
        )


def quarantined(suite: Suite | None) -> Column:
    """Rows that leave the batch: structural problems and broken quarantine rules."""
    leaving = [MALFORMED, MISSING_KEY] + [
        e.name for e in (suite.expectations if suite else ()) if e.meta.action == "quarantine"
    ]
    return F.arrays_overlap(F.col(RULES), F.array(*(F.lit(n) for n in leaving)))


def judged_rows(flagged: DataFrame) -> DataFrame:
    """The rows the suite's rules judged (what GX validates), without the bookkeeping column."""
    return flagged.where(
        ~F.array_contains(F.col(RULES), MALFORMED) & ~F.array_contains(F.col(RULES), MISSING_KEY)
    ).drop(RULES)
