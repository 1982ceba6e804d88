"""The order-management system: orders with their life cycle, and their positions.

An order placed on day d is re-exported on every later day its status changes
(placed -> paid -> shipped -> delivered, or cancelled, or returned), each time with a newer
``updated_at``. Its whole life cycle is drawn from its id, so the export of any day is the
set of status changes that fall on that day, recomputed from the orders of the days before.
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.simulator import render
from lakehouse.simulator.calendar import per_day
from lakehouse.simulator.episodes import returning_customer
from lakehouse.simulator.rng import between, element, weighted_index
from lakehouse.simulator.source_model import Context, SourceModel, day_rows

DAY = 86400


def epoch(ctx: Context, day: Column) -> Column:
    return F.lit(ctx.calendar.epoch(0)) + day.cast("long") * DAY


def order_time(ctx: Context, day: Column, oidx: Column) -> Column:
    """When an order is placed: busy hours are likelier (UTC, so the order date is the day)."""
    hour = weighted_index(ctx.rng.u("order_hour", day, oidx), ctx.world.raw["hourly"]["web"])
    return epoch(ctx, day) + hour * 3600 + between(ctx.rng.u("order_sec", day, oidx), 0, 3599)


def life_span_days(ctx: Context) -> int:
    """Days from an order to its last possible status change."""
    cycle = ctx.world.raw["lifecycle"]
    hours = sum(
        cycle[k][1]
        for k in (
            "paid_after_hours",
            "shipped_after_hours",
            "delivered_after_hours",
            "returned_after_hours",
        )
    )
    return math.ceil(max(hours, cycle["cancel_after_hours"][1]) / 24) + 1


def shop_choice(
    ctx: Context, u: Column, shop_type: str, day: Column, first: int, last: int
) -> Column:
    # Consecutive days with the same open shops share one CASE branch.
    groups: list[tuple[int, int]] = []
    for d in range(max(first, 0), last + 1):
        key = tuple(s.shop_id for s in ctx.world.shops_of(shop_type, d))
        if groups and tuple(s.shop_id for s in ctx.world.shops_of(shop_type, groups[-1][0])) == key:
            groups[-1] = (groups[-1][0], d)
        else:
            groups.append((d, d))
    out = None
    for start, _ in reversed(groups):
        shops = ctx.world.shops_of(shop_type, start)
        pick = element([s.shop_id for s in shops], weighted_index(u, [s.weight for s in shops]))
        out = pick if out is None else F.when(day >= start, pick).otherwise(out)
    return out


def shop_tz(ctx: Context, shop_id: Column) -> Column:
    pairs = [
        x for s in ctx.world.shops for x in (F.lit(s.shop_id), F.lit(ctx.world.city_tz(s.city)))
    ]
    return F.element_at(F.create_map(*pairs), shop_id)


def placed_orders(ctx: Context, first: int, last: int) -> DataFrame:
    """One row per order placed on days [first, last]: who, where, when."""
    cal, w, rng = ctx.calendar, ctx.world, ctx.rng
    base = day_rows(ctx, first, last, cal.orders)
    day, oidx = F.col("_day"), F.col("idx")
    first = max(first, 0)
    existing = per_day(first, last, cal.customers_before, day)
    new_today = per_day(first, last, cal.new_customers, day)
    compact = F.date_format(F.date_add(F.lit(ctx.settings.start_date), day), "yyyyMMdd")
    is_new = oidx < new_today
    returning = returning_customer(rng.u("returning", day, oidx), existing)
    store = rng.u("channel", day, oidx) < ctx.settings.store_order_share
    channel = F.when(store, F.lit("store")).otherwise(F.lit("web"))
    shop = F.when(
        store, shop_choice(ctx, rng.u("store_shop", day, oidx), "physical", day, first, last)
    ).otherwise(shop_choice(ctx, rng.u("web_shop", day, oidx), "online", day, first, last))
    orders = base.select(
        "_day",
        "idx",
        F.concat(F.lit("O"), compact, F.lit("-"), F.lpad(oidx.cast("string"), 7, "0")).alias(
            "order_id"
        ),
        F.when(is_new, existing + oidx).otherwise(returning).alias("_cidx"),
        channel.alias("channel"),
        shop.alias("shop_id"),
        order_time(ctx, day, oidx).alias("order_ts"),
    )
    # Who comes back for what: anchors, follow-ups, repeat purchases (see episodes).
    orders = ctx.episodes.annotate(orders, first, last).withColumnRenamed("idx", "_oidx")
    return orders.select(
        "*",
        w.customer_id(F.col("_cidx")).alias("customer_id"),
        F.when(F.col("channel") == "store", shop_tz(ctx, F.col("shop_id")))
        .otherwise(w.customer_tz(F.col("_cidx")))
        .alias("_tz"),
    )


def _hours(ctx: Context, name: str, order_id: Column) -> Column:
    low, high = ctx.world.raw["lifecycle"][name]
    return (F.lit(low * 3600.0) + ctx.rng.u(name, order_id) * ((high - low) * 3600.0)).cast("long")


def order_events(ctx: Context, first: int, last: int) -> DataFrame:
    """Every status change of the orders placed on days [first, last] (any export day)."""
    cycle = ctx.world.raw["lifecycle"]
    orders = placed_orders(ctx, first, last)
    oid = F.col("order_id")
    placed = F.col("order_ts")
    cancelled = ctx.rng.u("cancel", oid) < cycle["cancel_share"]
    returned = ctx.rng.u("return", oid) < cycle["return_share"]
    paid = placed + F.greatest(_hours(ctx, "paid_after_hours", oid), F.lit(60))
    shipped = paid + _hours(ctx, "shipped_after_hours", oid)
    delivered = shipped + _hours(ctx, "delivered_after_hours", oid)
    back = delivered + _hours(ctx, "returned_after_hours", oid)
    cancel_at = placed + _hours(ctx, "cancel_after_hours", oid)

    def event(status: str, at: Column, ship: bool, deliver: bool) -> Column:
        null_day = F.lit(None).cast("int")
        return F.struct(
            F.lit(status).alias("status"),
            at.alias("updated_at"),
            (F.floor(shipped / DAY).cast("int") if ship else null_day).alias("shipping_date"),
            (F.floor(delivered / DAY).cast("int") if deliver else null_day).alias("delivery_date"),
        )

    events = F.array(
        event("placed", placed, False, False),
        F.when(cancelled, event("cancelled", cancel_at, False, False)),
        F.when(~cancelled, event("paid", paid, False, False)),
        F.when(~cancelled, event("shipped", shipped, True, False)),
        F.when(~cancelled, event("delivered", delivered, True, True)),
        F.when(~cancelled & returned, event("returned", back, True, True)),
    )
    day0 = ctx.calendar.epoch(0)
    return (
        orders.withColumn("_order_day", F.col("_day"))
        .withColumn("_event", F.explode(F.filter(events, lambda e: e.isNotNull())))
        .select("*", "_event.*")
        .drop("_event")
        .withColumn("_day", F.floor((F.col("updated_at") - day0) / DAY).cast("int"))
        .withColumn("_rid", F.concat_ws("|", "order_id", "status"))
    )


ORDER_KINDS = {
    "order_id": render.PLAIN,
    "customer_id": render.PLAIN,
    "shop_id": render.PLAIN,
    "channel": render.PLAIN,
    "order_ts": render.TS_LOCAL,
    "status": render.PLAIN,
    "shipping_date": render.DATE,
    "delivery_date": render.DATE,
    "updated_at": render.TS_UTC,
}


def orders_model(ctx: Context) -> SourceModel:
    span = life_span_days(ctx)

    def rows(first: int, last: int) -> DataFrame:
        events = order_events(ctx, first - span, last)
        return events.where(F.col("_day").between(first, last))

    return SourceModel(
        name="orders",
        rows=rows,
        kinds=ORDER_KINDS,
        key=("order_id", "status"),
        required=("customer_id", "shop_id", "order_ts", "status"),
        dates=("order_ts",),
    )


def positions(ctx: Context, first: int, last: int) -> DataFrame:
    """The lines of the orders placed on days [first, last], priced at that day's list price."""
    w, rng = ctx.world, ctx.rng
    baskets = ctx.world.raw["basket_sizes"]
    orders = placed_orders(ctx, first, last)
    oid = F.col("order_id")
    size = F.when(
        F.col("channel") == "store", weighted_index(rng.u("basket", oid), baskets["store"])
    ).otherwise(weighted_index(rng.u("basket", oid), baskets["web"]))
    lines = orders.withColumn("position_no", F.explode(F.sequence(F.lit(1), size + 1)))
    pno = F.col("position_no")
    keys = [oid, pno]
    shoppers, assortment = w.shoppers, w.assortment
    lines = shoppers.with_category(lines, "_cidx", "_day", keys)
    lines = shoppers.with_product(lines, "_cidx", "_day", keys, out="_drawn")
    fixed = F.when(pno == 1, F.col("_fix1")).when(pno == 2, F.col("_fix2"))
    lines = lines.withColumns(
        {
            "_pidx": F.coalesce(fixed, F.col("_drawn")),
            "_cat": F.when(fixed.isNull(), F.col("_cat")).otherwise(w.category_index(fixed)),
        }
    )
    day, pidx = F.col("_day"), F.col("_pidx")
    price = w.list_price(pidx, F.col("_cat"), day)
    coupon = F.when(
        rng.u("discount", oid, pno) < 0.15, between(rng.u("discount_pct", oid, pno), 5, 30) / 100.0
    ).otherwise(F.lit(0.0))
    off = F.greatest(coupon, assortment.discount(pidx, day))
    unit_price = F.when(off > 0, F.round(price * (1 - off), 2)).otherwise(price)
    extra = rng.u("quantity", oid, pno)
    drawn_qty = (
        F.when(extra < 0.8, 1)
        .when(extra < 0.95, 2)
        .otherwise(between(rng.u("qty", oid, pno), 3, 6))
    )
    own_qty = F.when((pno == 1) & F.col("_fix_qty").isNotNull(), F.col("_fix_qty"))
    quantity = F.coalesce(own_qty, drawn_qty) + shoppers.extra_unit(keys, pidx, day)
    return lines.select(
        "_day",
        F.col("_day").alias("_order_day"),
        "order_id",
        "position_no",
        w.product_id(F.col("_pidx")).alias("product_id"),
        quantity.cast("int").alias("quantity"),
        unit_price.cast("decimal(12,2)").alias("unit_price"),
        F.col("order_ts").alias("updated_at"),
        F.concat_ws("|", "order_id", "position_no").alias("_rid"),
        F.lit(None).cast("string").alias("_tz"),
    )


def positions_model(ctx: Context) -> SourceModel:
    def orphan(u: Column) -> Column:
        # Suffixes from 9,000,000 on are never used by real orders of the day.
        return F.concat(
            F.substring(F.col("order_id"), 1, 10),
            F.lit("9"),
            F.lpad(between(u, 0, 999999).cast("string"), 6, "0"),
        )

    def resend() -> dict[str, Column]:
        q = F.col("quantity")
        return {"quantity": F.when(q > 1, q - 1).otherwise(q + 1)}

    return SourceModel(
        name="order_positions",
        rows=lambda first, last: positions(ctx, first, last),
        kinds={
            "order_id": render.PLAIN,
            "position_no": render.PLAIN,
            "product_id": render.PLAIN,
            "quantity": render.PLAIN,
            "unit_price": render.PLAIN,
            "updated_at": render.TS_UTC,
        },
        key=("order_id", "position_no"),
        required=("product_id", "quantity", "unit_price"),
        absurd=("quantity", "unit_price"),
        unknown=("product_id", ctx.world.unknown_product_id),
        orphan=("order_id", orphan),
        resend=resend,
        late_unit="order_id",
    )
