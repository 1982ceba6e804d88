"""Backtest of the demand forecast on rolling origins: for each weekly origin of the last
weeks, the mart's forecaster is trained on the sales up to the origin and forecasts the next
days; its errors are set beside the seasonal naive (the same weekday of the last week seen)
and a flat line (the mean of the 28 days up to the origin).

WAPE = sum |forecast - actual| / sum actual, bias = sum (forecast - actual) / sum actual, over
every series and day of every origin's horizon; a series the forecaster did not cover counts
as a forecast of 0, a day without a sale as an actual of 0. Coverage: the share of actual
values inside the forecast's interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.marts.demand_forecast import forecast
from lakehouse.marts.forecast_features import SERIES, daily


@dataclass(frozen=True)
class Backtest:
    method: str
    origins: int
    points: int  # series x days compared
    actual: float  # total units sold
    abs_error: float
    error: float  # sum of forecast - actual
    covered: int | None = None  # actual inside the interval (the model only)

    @property
    def wape(self) -> float:
        return self.abs_error / self.actual if self.actual else 0.0

    @property
    def bias(self) -> float:
        return self.error / self.actual if self.actual else 0.0

    @property
    def coverage(self) -> float | None:
        return None if self.covered is None or not self.points else self.covered / self.points


def rolling_origins(sales: DataFrame, weeks: int, horizon: int) -> list[date]:
    """The weekly origins whose whole horizon lies in the data, the latest ``weeks``."""
    last = sales.agg(F.max("order_date")).first()[0]
    return sorted(last - timedelta(days=horizon + 7 * k) for k in range(weeks))


def backtest(
    sales: DataFrame,
    params: dict[str, Any],
    weeks: int = 8,
    say: Callable[[str], None] = lambda _: None,
) -> tuple[list[Backtest], list[date]]:
    """The forecaster (with the mart's ``params``), the seasonal naive and a flat line over
    ``weeks`` rolling origins."""
    horizon = int(params.get("horizon_days", 14))
    origins = rolling_origins(sales, weeks, horizon)
    compared = None
    for o in origins:
        say(f"  origin {o}")
        part = _compare(sales, o, horizon, params).localCheckpoint()
        compared = part if compared is None else compared.unionByName(part)
    return summarise(compared, len(origins)), origins


def _compare(sales: DataFrame, origin: date, horizon: int, params: dict) -> DataFrame:
    """Per series and target day of ``origin``'s horizon: actual, forecast (with interval),
    seasonal naive and flat line."""
    known = sales.where(F.col("order_date") <= origin)
    predicted = forecast(known, **params).select(
        *SERIES,
        F.col("forecast_date").alias("day"),
        F.col("units").alias("model"),
        "units_low",
        "units_high",
    )
    end = origin + timedelta(days=horizon)
    seen = known.where(F.col("order_date") > origin - timedelta(days=28)).select(*SERIES)
    actual_series = sales.where(F.col("order_date").between(origin + timedelta(days=1), end))
    series = (
        seen.unionByName(actual_series.select(*SERIES))
        .unionByName(predicted.select(*SERIES))
        .distinct()
    )
    dense = daily(sales, origin - timedelta(days=27), end, series)
    past = dense.where(F.col("day") <= origin)
    flat = past.groupBy(*SERIES).agg((F.sum("units") / 28).alias("flat"))
    # the same weekday of the last week seen: origin - 6 .. origin, by weekday
    last_week = past.where(F.col("day") > origin - timedelta(days=7)).select(
        *SERIES, F.dayofweek("day").alias("_wd"), F.col("units").alias("naive")
    )
    ahead = dense.where(F.col("day") > origin).withColumn("_wd", F.dayofweek("day"))
    return (
        ahead.join(last_week, [*SERIES, "_wd"], "left")
        .join(flat, SERIES, "left")
        .join(predicted, [*SERIES, "day"], "left")
        .select(
            *SERIES,
            F.lit(origin).alias("origin"),
            "day",
            F.col("units").alias("actual"),
            F.coalesce("model", F.lit(0.0)).alias("model"),
            "units_low",
            "units_high",
            F.coalesce("naive", F.lit(0.0)).alias("naive"),
            F.coalesce("flat", F.lit(0.0)).alias("flat"),
        )
    )


def summarise(compared: DataFrame, origins: int) -> list[Backtest]:
    sums = []
    for method in ("model", "naive", "flat"):
        sums += [
            F.sum(F.abs(F.col(method) - F.col("actual"))).alias(f"{method}_abs"),
            F.sum(F.col(method) - F.col("actual")).alias(f"{method}_err"),
        ]
    inside = F.coalesce(F.col("units_low"), F.lit(0.0)) <= F.col("actual")
    inside = inside & (F.col("actual") <= F.coalesce(F.col("units_high"), F.lit(0.0)))
    row = compared.agg(
        F.count("*").alias("points"),
        F.sum("actual").alias("actual"),
        F.sum(inside.cast("int")).alias("covered"),
        *sums,
    ).first()
    names = {
        "model": "gradient-boosted trees (the mart)",
        "naive": "seasonal naive (same weekday last week)",
        "flat": "flat line (mean of the last 28 days)",
    }
    return [
        Backtest(
            method=names[m],
            origins=origins,
            points=row["points"],
            actual=float(row["actual"] or 0.0),
            abs_error=float(row[f"{m}_abs"] or 0.0),
            error=float(row[f"{m}_err"] or 0.0),
            covered=row["covered"] if m == "model" else None,
        )
        for m in ("model", "naive", "flat")
    ]


def format_backtest(results: list[Backtest]) -> str:
    naive = next((r for r in results if r.method.startswith("seasonal naive")), None)
    rows = [
        "| method | origins | series x days | units sold | WAPE | bias | vs seasonal naive |"
        " interval coverage |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        gain = f"{r.wape / naive.wape - 1:+.0%}" if naive and naive.wape else "n/a"
        cover = f"{r.coverage:.3f}" if r.coverage is not None else ""
        rows.append(
            f"| {r.method} | {r.origins} | {r.points} | {r.actual:.0f} | {r.wape:.4f} |"
            f" {r.bias:+.4f} | {gain} | {cover} |"
        )
    return "\n".join(rows)
