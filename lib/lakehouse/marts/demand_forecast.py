"""Demand forecast: units per product, shop and channel for the days after the last sale day,
with a prediction interval, by gradient-boosted trees (Spark ML) over calendar, lag and
promotion features (``forecast_features``).

One model serves every series and horizon. It is trained on weekly origins before the
calibration origin (the last day minus the horizon), whose out-of-sample errors, binned by the
size of the prediction, give the interval (split conformal); then it forecasts from the last
day. Everything runs in Spark, so it scales with the cluster.
"""

from __future__ import annotations

from datetime import timedelta

from pyspark.ml import Pipeline
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import GBTRegressor
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.marts.forecast_features import FEATURES, SERIES, origin_rows

SCHEMA = (
    "product_id string, shop_id string, channel string, origin date, forecast_date date,"
    " horizon int, units double, units_low double, units_high double, model string"
)
BINS = 5  # prediction sizes the interval is calibrated for separately


def forecast(
    sales: DataFrame,
    horizon_days: int = 14,
    train_origins: int = 8,
    active_days: int = 56,
    interval: float = 0.8,
    trees: int = 30,
    depth: int = 5,
    step: float = 0.1,
    seed: int = 42,
) -> DataFrame:
    """The mart's rows from ``sales`` (gold.mart_item_sales_daily: order_date, product_id,
    shop_id, channel, units, sales): for each series with a sale in the last
    ``active_days``, ``horizon_days`` days of units with a central ``interval``.

    With too little history to train on (fewer than two weeks before the calibration
    origin), the forecast is the mean of the last 4 same weekdays and the interval a Poisson
    one around it (``model`` says which).
    """
    spark = sales.sparkSession
    last = sales.agg(F.max("order_date"), F.min("order_date")).first()
    if last[0] is None:
        return spark.createDataFrame([], SCHEMA)
    origin, first = last[0], last[1]
    calibration = origin - timedelta(days=horizon_days)
    training = [calibration - timedelta(days=7 * k) for k in range(1, train_origins + 1)]
    training = [o for o in training if o >= first + timedelta(days=14)]
    rows = origin_rows(sales, [origin, *training, calibration], horizon_days, active_days)
    ahead = rows.where(F.col("origin") == origin)
    if not training:
        return _output(ahead, _fallback(), interval, "weekday mean")
    model = fit(rows.where(F.col("origin").isin(training)), trees, depth, step, seed)
    calibrated = predict(model, rows.where(F.col("origin") == calibration))
    bands = residual_bands(calibrated.where(F.col("actual").isNotNull()), interval)
    return _output(predict(model, ahead), F.col("prediction"), interval, "gbt", bands)


def fit(training: DataFrame, trees: int, depth: int, step: float, seed: int):
    """The GBT pipeline fitted on rows with an ``actual``."""
    data = training.where(F.col("actual").isNotNull()).fillna(0.0, subset=FEATURES).persist()
    try:
        gbt = GBTRegressor(
            featuresCol="features",
            labelCol="actual",
            maxIter=trees,
            maxDepth=depth,
            stepSize=step,
            subsamplingRate=0.8,
            seed=seed,
        )
        assembler = VectorAssembler(inputCols=FEATURES, outputCol="features")
        return Pipeline(stages=[assembler, gbt]).fit(data)
    finally:
        data.unpersist()


def predict(model, rows: DataFrame) -> DataFrame:
    """``rows`` with ``prediction`` (units, at least 0)."""
    scored = model.transform(rows.fillna(0.0, subset=FEATURES))
    return scored.withColumn("prediction", F.greatest(F.col("prediction"), F.lit(0.0))).drop(
        "features"
    )


def residual_bands(calibrated: DataFrame, interval: float) -> list[tuple[float, float, float]]:
    """(upper prediction of the bin, low error, high error) per bin of predictions: the
    errors (actual - prediction) at the interval's two quantiles, on the calibration origin."""
    tail = (1 - interval) / 2
    cuts = calibrated.approxQuantile("prediction", [i / BINS for i in range(1, BINS)], 0.001)
    cuts = sorted(set(cuts))
    bounds = [*cuts, float("inf")]
    out = []
    lower = -float("inf")
    for upper in bounds:
        part = calibrated.where(
            (F.col("prediction") > lower) & (F.col("prediction") <= upper)
            if upper != float("inf")
            else F.col("prediction") > lower
        )
        errors = part.select((F.col("actual") - F.col("prediction")).alias("e"))
        q = errors.approxQuantile("e", [tail, 1 - tail], 0.001)
        if q:
            out.append((upper, q[0], q[1]))
        lower = upper
    return out


def _fallback() -> Column:
    return F.col("mean_same_weekday")


def _band(bands: list[tuple[float, float, float]], which: int, prediction: Column) -> Column:
    expr = None
    for upper, *errors in reversed(bands):
        value = F.lit(errors[which])
        expr = value if expr is None else F.when(prediction <= upper, value).otherwise(expr)
    return expr if expr is not None else F.lit(0.0)


def _output(
    rows: DataFrame,
    prediction: Column,
    interval: float,
    model: str,
    bands: list[tuple[float, float, float]] | None = None,
) -> DataFrame:
    units = F.greatest(prediction, F.lit(0.0))
    if bands:
        low = units + _band(bands, 0, units)
        high = units + _band(bands, 1, units)
    else:  # a Poisson count's central interval, by its normal approximation
        z = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96}.get(round(interval, 2), 1.2816)
        low, high = units - z * F.sqrt(units), units + z * F.sqrt(units)
    return rows.select(
        *SERIES,
        "origin",
        F.col("day").alias("forecast_date"),
        F.col("h").cast("int").alias("horizon"),
        F.round(units, 3).alias("units"),
        F.round(F.least(F.greatest(low, F.lit(0.0)), units), 3).alias("units_low"),
        F.round(F.greatest(high, units), 3).alias("units_high"),
        F.lit(model).alias("model"),
    )
