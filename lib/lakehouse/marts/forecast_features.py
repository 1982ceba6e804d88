"""What the demand forecaster knows at a forecast origin, per series and day ahead.

A series is a product sold by a shop in a channel. Sales are daily units with the days
without a sale filled in as 0. For an origin day o and a horizon h (the target day is o + h),
every feature uses sales up to o only:

- calendar: h, the target's weekday and month, whether it falls in o's calendar week
  (promotions run Monday to Sunday, so a promotion seen at o lasts until then);
- lags: the series' last value on the target's weekday, the mean of its last 4 values on that
  weekday, its means over 7 and 28 days, its share of days without a sale;
- pooled shape: the weekday index of the shop and channel (units on that weekday over the
  average day, last 8 weeks), the product's mean units per day over its series;
- promotion: the product's average price over the last 3 days against the 53 before (a
  promotion shows as a drop), and the days since the product's first sale (new products
  ramp up).
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

SERIES = ["product_id", "shop_id", "channel"]
LOOKBACK = 35  # days of a series' own history a row carries (5 weeks of one weekday)
SHAPE_DAYS = 56  # the pooled weekday shape and the reference price
FEATURES = [
    "h",
    "weekday",
    "month",
    "same_week",
    "last_same_weekday",
    "mean_same_weekday",
    "mean_7",
    "mean_28",
    "zero_share_28",
    "shop_weekday_index",
    "product_mean_28",
    "price_ratio",
    "product_age",
]


def daily(sales: DataFrame, first: date, last: date, series: DataFrame) -> DataFrame:
    """series columns, day, units: ``series`` x every day of [first, last], 0 where no sale."""
    days = sales.sparkSession.sql(f"SELECT explode(sequence(DATE'{first}', DATE'{last}')) AS day")
    sold = (
        sales.where(F.col("order_date").between(first, last))
        .groupBy(*SERIES, F.col("order_date").alias("day"))
        .agg(F.sum("units").cast("double").alias("units"))
    )
    return (
        series.crossJoin(F.broadcast(days))
        .join(sold, [*SERIES, "day"], "left")
        .withColumn("units", F.coalesce("units", F.lit(0.0)))
    )


def active_series(sales: DataFrame, origin: date, days: int) -> DataFrame:
    """The series with a sale in the ``days`` up to ``origin``."""
    since = origin - timedelta(days=days - 1)
    return sales.where(F.col("order_date").between(since, origin)).select(*SERIES).distinct()


def _weekday(day: Column) -> Column:
    return F.pmod(F.dayofweek(day) + 5, 7)  # Monday = 0


def origin_rows(sales: DataFrame, origins: list[date], horizon: int, active_days: int) -> DataFrame:
    """One row per active series, origin and horizon 1..``horizon``: the features, the
    origin, the target ``day`` and its ``actual`` units (null beyond the data's last day)."""
    data_last = sales.agg(F.max("order_date")).first()[0]
    parts = []
    for o in origins:
        series = active_series(sales, o, active_days)
        first = o - timedelta(days=SHAPE_DAYS - 1)
        last = min(o + timedelta(days=horizon), max(data_last, o))
        dense = daily(sales, first, last, series)
        parts.append(dense.withColumn("origin", F.lit(o)))
    dense = parts[0]
    for p in parts[1:]:
        dense = dense.unionByName(p)
    dense = dense.withColumn("_offset", F.datediff("day", "origin")).persist()
    try:
        rows = _series_rows(dense, horizon)
        rows = rows.join(_shop_shape(dense), ["shop_id", "channel", "origin", "weekday"], "left")
        rows = rows.join(_product_signals(sales, dense, origins), ["product_id", "origin"], "left")
        rows = rows.fillna({"shop_weekday_index": 1.0, "price_ratio": 1.0, "product_age": 0.0})
        return rows.localCheckpoint()
    finally:
        dense.unpersist()


def _series_rows(dense: DataFrame, horizon: int) -> DataFrame:
    """Per series and origin: the last LOOKBACK days as an array (index LOOKBACK - 1 = the
    origin), then one row per horizon with the lag features and the actual."""
    past = dense.where(F.col("_offset").between(1 - LOOKBACK, 0))
    ahead = dense.where(F.col("_offset").between(1, horizon))
    history = past.groupBy(*SERIES, "origin").agg(
        F.transform(
            F.array_sort(F.collect_list(F.struct("_offset", "units"))), lambda s: s["units"]
        ).alias("_h")
    )
    actual = ahead.select(
        *SERIES, "origin", F.col("_offset").alias("h"), F.col("units").alias("actual")
    )
    rows = history.select("*", F.explode(F.sequence(F.lit(1), F.lit(horizon))).alias("h"))
    rows = rows.join(actual, [*SERIES, "origin", "h"], "left")
    h = F.col("h")
    back = F.ceil(h / 7).cast("int") * 7  # days back to the last same weekday seen

    def at(days_before_target: Column) -> Column:  # units on target - days (<= origin)
        return F.element_at("_h", (F.lit(LOOKBACK) + h - days_before_target).cast("int"))

    last_28 = F.slice("_h", LOOKBACK - 27, 28)
    day = F.date_add("origin", h)
    return rows.select(
        *SERIES,
        "origin",
        "h",
        day.alias("day"),
        "actual",
        _weekday(day).alias("weekday"),
        F.month(day).cast("double").alias("month"),
        (F.weekofyear(day) == F.weekofyear("origin")).cast("double").alias("same_week"),
        at(back).alias("last_same_weekday"),
        ((at(back) + at(back + 7) + at(back + 14) + at(back + 21)) / 4).alias("mean_same_weekday"),
        (F.aggregate(F.slice("_h", LOOKBACK - 6, 7), F.lit(0.0), lambda a, x: a + x) / 7).alias(
            "mean_7"
        ),
        (F.aggregate(last_28, F.lit(0.0), lambda a, x: a + x) / 28).alias("mean_28"),
        (F.size(F.filter(last_28, lambda x: x == 0)) / 28.0).alias("zero_share_28"),
    )


def _shop_shape(dense: DataFrame) -> DataFrame:
    """shop_id, channel, origin, weekday, shop_weekday_index: the shop and channel's units
    on a weekday over its average day, over the SHAPE_DAYS up to the origin."""
    past = dense.where(F.col("_offset") <= 0).withColumn("weekday", _weekday("day"))
    by_day = past.groupBy("shop_id", "channel", "origin", "weekday").agg(F.sum("units").alias("_u"))
    mean = F.avg("_u").over(Window.partitionBy("shop_id", "channel", "origin"))
    return by_day.select(
        "shop_id",
        "channel",
        "origin",
        "weekday",
        F.when(mean > 0, F.col("_u") / mean).otherwise(1.0).alias("shop_weekday_index"),
    )


def _product_signals(sales: DataFrame, dense: DataFrame, origins: list[date]) -> DataFrame:
    """product_id, origin, product_mean_28 (units per series and day), price_ratio (average
    price of the last 3 days over the days before), product_age (days since first sale)."""
    per_series = (
        dense.where(F.col("_offset").between(-27, 0))
        .groupBy("product_id", "origin")
        .agg((F.sum("units") / F.countDistinct(*SERIES[1:]) / 28).alias("product_mean_28"))
    )
    spark = sales.sparkSession
    at = spark.createDataFrame([(o,) for o in origins], "origin date")
    since = min(origins) - timedelta(days=SHAPE_DAYS - 1)
    priced = (
        sales.where(F.col("order_date").between(since, max(origins)) & (F.col("units") > 0))
        .crossJoin(F.broadcast(at))
        .withColumn("_back", F.datediff("origin", "order_date"))
        .where(F.col("_back").between(0, SHAPE_DAYS - 1))
    )
    recent = F.col("_back") <= 2
    prices = priced.groupBy("product_id", "origin").agg(
        (F.sum(F.when(recent, F.col("sales"))) / F.sum(F.when(recent, F.col("units")))).alias(
            "_p3"
        ),
        (F.sum(F.when(~recent, F.col("sales"))) / F.sum(F.when(~recent, F.col("units")))).alias(
            "_pref"
        ),
    )
    first_sale = sales.where("units > 0").groupBy("product_id").agg(F.min("order_date").alias("_f"))
    age = (
        first_sale.crossJoin(F.broadcast(at))
        .where(F.col("_f") <= F.col("origin"))
        .select(
            "product_id", "origin", F.datediff("origin", "_f").cast("double").alias("product_age")
        )
    )
    ratio = F.when(F.col("_pref") > 0, F.col("_p3") / F.col("_pref"))
    return per_series.join(
        prices.select("product_id", "origin", ratio.cast("double").alias("price_ratio")),
        ["product_id", "origin"],
        "left",
    ).join(age, ["product_id", "origin"], "left")
