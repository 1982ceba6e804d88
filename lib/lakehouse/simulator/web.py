"""The web shop's click stream: sessions of view / cart / purchase events, as JSON lines.

Shaped like the electronics-store dataset in the seeds: a log timestamp in UTC, a dotted
category code, a lower-case brand, a price, a user id and a session id.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.simulator import render
from lakehouse.simulator.calendar import per_day
from lakehouse.simulator.orders import DAY, epoch
from lakehouse.simulator.rng import between, weighted_index
from lakehouse.simulator.source_model import Context, SourceModel, day_rows


def _hex(h: Column) -> Column:
    return F.lower(F.lpad(F.hex(h), 16, "0"))


def session_id(ctx: Context, day: Column, sidx: Column) -> Column:
    """A UUID-shaped id from two hashes."""
    a = _hex(F.xxhash64(F.lit(ctx.rng.seed), F.lit("session_a"), day, sidx))
    b = _hex(F.xxhash64(F.lit(ctx.rng.seed), F.lit("session_b"), day, sidx))
    return F.concat_ws(
        "-", a.substr(1, 8), a.substr(9, 4), a.substr(13, 4), b.substr(1, 4), b.substr(5, 12)
    )


def web_rows(ctx: Context, first: int, last: int) -> DataFrame:
    w, rng, cal = ctx.world, ctx.rng, ctx.calendar
    first = max(first, 0)
    sessions = day_rows(ctx, first, last, cal.web_sessions)
    day, sidx = F.col("_day"), F.col("idx")
    existing = per_day(first, last, cal.customers_before, day)
    known = F.least(F.floor(F.pow(rng.u("web_user", day, sidx), 1.4) * existing), existing - 1)
    anonymous = F.abs(F.xxhash64(F.lit(rng.seed), F.lit("anon"), day, sidx)).cast("string")
    logged_in = rng.u("logged_in", day, sidx) < 0.55
    hour = weighted_index(rng.u("session_hour", day, sidx), w.raw["hourly"]["web"])
    length = F.least(F.floor(-F.log(1 - rng.u("session_len", day, sidx)) * 5) + 1, F.lit(30)).cast(
        "int"
    )
    buys = rng.u("intent", day, sidx) < 0.12
    step = between(rng.u("dwell", day, sidx), 15, 150)
    # A session ends before midnight UTC, so its events belong to the day it is exported on.
    second = F.least(
        hour * 3600 + between(rng.u("session_sec", day, sidx), 0, 3599),
        (DAY - 1) - (length - 1) * step,
    )
    start = epoch(ctx, day) + second
    sessions = sessions.select(
        "_day",
        session_id(ctx, day, sidx).alias("user_session"),
        F.when(logged_in, w.customer_id(known.cast("long"))).otherwise(anonymous).alias("user_id"),
        start.alias("_start"),
        length.alias("_len"),
        step.alias("_step"),
        buys.alias("_buys"),
    )
    events = sessions.withColumn("_j", F.explode(F.sequence(F.lit(1), F.col("_len"))))
    sid, j = F.col("user_session"), F.col("_j")
    # Visitors browse around one product and sometimes wander off to others.
    wander = rng.u("wander", sid, j) < 0.35
    pidx = F.when(wander, w.popular_product(rng.u("web_product", sid, j))).otherwise(
        w.popular_product(rng.u("web_focus", sid))
    )
    events = events.withColumn("_pidx", pidx).withColumn("_cat", w.category_index(F.col("_pidx")))
    # nobody views a product before it comes out: the category's best seller instead
    events = events.withColumn(
        "_pidx", w.assortment.launched(F.col("_pidx"), F.col("_cat"), F.col("_day"))
    )
    at = F.col("_start") + (j - 1) * F.col("_step")
    last_two = j >= F.col("_len") - 1
    kind = (
        F.when(F.col("_buys") & (j == F.col("_len")) & (F.col("_len") > 1), F.lit("purchase"))
        .when(F.col("_buys") & last_two, F.lit("cart"))
        .when(rng.u("cart", sid, j) < 0.05, F.lit("cart"))
        .otherwise(F.lit("view"))
    )
    return events.select(
        "_day",
        at.alias("event_time"),
        kind.alias("event_type"),
        w.product_id(F.col("_pidx")).alias("product_id"),
        w.category(F.col("_cat"), "code").alias("category_code"),
        w.brand(F.col("_pidx"), F.col("_cat")).alias("brand"),
        w.list_price(F.col("_pidx"), F.col("_cat"), day).cast("double").alias("price"),
        "user_id",
        "user_session",
        F.concat_ws("#", sid, j.cast("string")).alias("_rid"),
        F.concat_ws("#", sid, j.cast("string")).alias("_event_no"),
        F.lit("UTC").alias("_tz"),
    )


def web_model(ctx: Context) -> SourceModel:
    kinds = {"event_time": render.TS_LOG}
    kinds |= {c: render.PLAIN for c in ("event_type", "product_id", "category_code", "brand")}
    kinds |= {"price": render.PLAIN, "user_id": render.PLAIN, "user_session": render.PLAIN}
    return SourceModel(
        name="web_events",
        rows=lambda first, last: web_rows(ctx, first, last),
        kinds=kinds,
        key=("_event_no",),
        required=("event_type", "product_id", "user_session"),
        absurd=("price",),
        dates=("event_time",),
        updated_at=None,
        late_unit="user_session",
    )
