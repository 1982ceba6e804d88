"""The shops' tills: one row per receipt line, exported nightly as Parquet.

A different system from the web shop, so a different shape: receipt numbers, store codes,
SKUs, prices in cents and a loyalty card instead of a customer id.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.simulator import render
from lakehouse.simulator.calendar import per_day
from lakehouse.simulator.orders import epoch, shop_choice
from lakehouse.simulator.rng import between, element, weighted_index
from lakehouse.simulator.source_model import Context, SourceModel, day_rows

PAYMENT = (("card", 55), ("cash", 30), ("mobile", 15))


def pos_rows(ctx: Context, first: int, last: int) -> DataFrame:
    w, rng, cal = ctx.world, ctx.rng, ctx.calendar
    first = max(first, 0)
    receipts = day_rows(ctx, first, last, cal.receipts)
    day, ridx = F.col("_day"), F.col("idx")
    store = shop_choice(ctx, rng.u("till_shop", day, ridx), "physical", day, first, last)
    tills = F.create_map(*[x for s in w.shops for x in (F.lit(s.shop_id), F.lit(s.tills))])
    hour = weighted_index(rng.u("till_hour", day, ridx), w.raw["hourly"]["store"])
    sold_at = epoch(ctx, day) + hour * 3600 + between(rng.u("till_sec", day, ridx), 0, 3599)
    existing = per_day(first, last, cal.customers_before, day)
    member = F.least(F.floor(F.pow(rng.u("loyal", day, ridx), 1.4) * existing), existing - 1)
    compact = F.date_format(F.date_add(F.lit(ctx.settings.start_date), day), "yyyyMMdd")
    card = rng.u("card", day, ridx) < 0.4
    receipts = receipts.select(
        "_day",
        "idx",
        store.alias("store_code"),
        sold_at.alias("sold_at"),
        F.when(card, member.cast("long")).alias("_member"),
        F.when(card, w.customer_id(member.cast("long"))).alias("loyalty_card"),
        element(
            [p for p, _ in PAYMENT],
            weighted_index(rng.u("pay", day, ridx), [s for _, s in PAYMENT]),
        ).alias("payment_method"),
    )
    receipt_no = F.concat_ws(
        "/", "store_code", compact, F.lpad(F.col("idx").cast("string"), 7, "0")
    )
    till = F.concat(
        F.lit("T"),
        F.lpad(
            (F.floor(rng.u("till", day, ridx) * F.element_at(tills, F.col("store_code"))) + 1).cast(
                "string"
            ),
            2,
            "0",
        ),
    )
    size = weighted_index(rng.u("receipt_size", day, ridx), w.raw["basket_sizes"]["store"]) + 1
    lines = receipts.select(
        "*",
        receipt_no.alias("receipt_no"),
        till.alias("till_id"),
        F.explode(F.sequence(F.lit(1), size)).alias("line_no"),
    )
    rno, lno = F.col("receipt_no"), F.col("line_no")
    # A card holder buys to their tastes; a sale without a card follows the shop's mix.
    keys = [rno, lno]
    lines = w.shoppers.with_category(lines, "_member", "_day", keys)
    lines = w.shoppers.with_product(lines, "_member", "_day", keys)
    pidx = F.col("_pidx")
    price = w.list_price(pidx, F.col("_cat"), day)
    till_promo = F.when(rng.u("promo", rno, lno) < 0.1, F.lit(0.1)).otherwise(F.lit(0.0))
    off = F.greatest(till_promo, w.assortment.discount(pidx, day))
    cents = F.when(off > 0, F.floor(price * (1 - off) * 100)).otherwise(price * 100).cast("long")
    q = rng.u("qty", rno, lno)
    qty = F.when(q < 0.85, 1).when(q < 0.96, 2).otherwise(between(rng.u("qty_n", rno, lno), 3, 5))
    qty = qty + w.shoppers.extra_unit(keys, pidx, day)
    return lines.select(
        "_day",
        "receipt_no",
        lno.cast("int").alias("line_no"),
        "store_code",
        "till_id",
        "sold_at",
        "loyalty_card",
        w.product_id(F.col("_pidx")).alias("sku"),
        qty.cast("int").alias("qty"),
        cents.alias("unit_price_cents"),
        "payment_method",
        F.concat_ws("|", rno, lno.cast("string")).alias("_rid"),
        F.lit(None).cast("string").alias("_tz"),
    )


def pos_model(ctx: Context) -> SourceModel:
    kinds = {
        c: render.PLAIN for c in ("receipt_no", "line_no", "store_code", "till_id", "loyalty_card")
    }
    kinds |= {"sold_at": render.TIMESTAMP, "sku": render.PLAIN, "qty": render.PLAIN}
    kinds |= {"unit_price_cents": render.PLAIN, "payment_method": render.PLAIN}
    return SourceModel(
        name="pos_sales",
        rows=lambda first, last: pos_rows(ctx, first, last),
        kinds=kinds,
        key=("receipt_no", "line_no"),
        required=("store_code", "sold_at", "sku", "qty"),
        absurd=("qty", "unit_price_cents"),
        unknown=("sku", ctx.world.unknown_product_id),
        updated_at=None,
        late_unit="receipt_no",
    )
