"""The product catalogue and the inventory system's daily stock levels."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.simulator import render
from lakehouse.simulator.orders import epoch
from lakehouse.simulator.rng import between
from lakehouse.simulator.source_model import Context, SourceModel, day_rows


def product_rows(ctx: Context, first: int, last: int) -> DataFrame:
    """Day 0: the whole catalogue. Later days: the products whose list price changed, and the
    new products on the day they come out."""
    w, n = ctx.world, ctx.settings.products
    frame = day_rows(ctx, first, last, lambda d: n)
    pidx, day = F.col("idx"), F.col("_day")
    launch = w.assortment.launch_day(pidx)
    changed = (day == launch) | (w.price_version(pidx, day) != w.price_version(pidx, day - 1))
    frame = frame.where(changed & (day >= launch)).withColumn("_cat", w.category_index(pidx))
    cat = F.col("_cat")
    brand = w.brand(pidx, cat)
    # The catalogue job runs at night, before the shops open.
    at = epoch(ctx, day) + between(ctx.rng.u("catalogue_at", pidx, day), 3600, 5 * 3600)
    return frame.select(
        "_day",
        w.product_id(pidx).alias("product_id"),
        w.product_name(pidx, cat, brand).alias("product_name"),
        brand.alias("brand"),
        w.category(cat, "category").alias("category"),
        w.category(cat, "department").alias("department"),
        w.supplier(pidx).alias("supplier"),
        w.list_price(pidx, cat, day).alias("list_price"),
        at.alias("updated_at"),
        F.concat_ws("|", w.product_id(pidx), day.cast("string")).alias("_rid"),
        F.lit(None).cast("string").alias("_tz"),
    )


def products_model(ctx: Context) -> SourceModel:
    kinds = {c: render.PLAIN for c in ("product_id", "product_name", "brand", "category")}
    kinds |= {"department": render.PLAIN, "supplier": render.PLAIN, "list_price": render.PLAIN}
    kinds |= {"updated_at": render.TS_UTC}
    return SourceModel(
        name="products",
        rows=lambda first, last: product_rows(ctx, first, last),
        kinds=kinds,
        key=("product_id",),
        required=("product_name", "category", "list_price"),
        absurd=("list_price",),
        clean_full_load=True,
    )


def stock_rows(ctx: Context, first: int, last: int) -> DataFrame:
    """One row per product and shop (online shops report their warehouse) per day."""
    w, rng, n = ctx.world, ctx.rng, ctx.settings.products
    shops = [s for s in w.shops if s.opens_on_day is None]
    late_shops = [s for s in w.shops if s.opens_on_day is not None]
    ids = [s.shop_id for s in shops + late_shops]
    opening = [s.opens_on_day or 0 for s in shops + late_shops]
    frame = day_rows(ctx, first, last, lambda d: n * len(ids))
    shop_no = F.pmod(F.col("idx"), F.lit(len(ids))).cast("int")
    pidx = F.floor(F.col("idx") / len(ids)).cast("long")
    frame = frame.select("_day", pidx.alias("_pidx"), shop_no.alias("_shop"))
    opened = F.element_at(F.array(*[F.lit(o) for o in opening]), F.col("_shop") + 1)
    launched = w.assortment.launch_day(F.col("_pidx"))
    frame = frame.where((F.col("_day") >= opened) & (F.col("_day") >= launched))
    shop_id = F.element_at(F.array(*[F.lit(i) for i in ids]), F.col("_shop") + 1)
    online = F.element_at(
        F.array(*[F.lit(s.shop_type == "online") for s in shops + late_shops]), F.col("_shop") + 1
    )
    capacity = between(rng.u("capacity", F.col("_pidx"), F.col("_shop")), 2, 40) * F.when(
        online, 12
    ).otherwise(1)
    on_hand = F.floor(capacity * rng.u("stock", F.col("_pidx"), F.col("_shop"), F.col("_day")))
    product_id = w.product_id(F.col("_pidx"))
    return frame.select(
        "_day",
        F.col("_day").alias("stock_date"),
        product_id.alias("product_id"),
        shop_id.alias("shop_id"),
        on_hand.cast("int").alias("on_hand"),
        F.concat_ws("|", F.col("_day").cast("string"), product_id, shop_id).alias("_rid"),
        F.lit(None).cast("string").alias("_tz"),
    ).withColumn(
        "stock_date", (F.col("stock_date") + F.lit(ctx.calendar.epoch(0) // 86400)).cast("int")
    )


def stock_model(ctx: Context) -> SourceModel:
    return SourceModel(
        name="stock_levels",
        rows=lambda first, last: stock_rows(ctx, first, last),
        kinds={
            "stock_date": render.DATE,
            "product_id": render.PLAIN,
            "shop_id": render.PLAIN,
            "on_hand": render.PLAIN,
        },
        key=("stock_date", "product_id", "shop_id"),
        required=("product_id", "on_hand"),
        absurd=("on_hand",),
        updated_at=None,
    )
