"""The shoppers' behaviour as the manifest records it: what a model could learn, as planted.

Per day: the orders by kind (sign-ups' first orders, anchors, follow-ups, repeat purchases,
the rest), the customers whose repeat interval falls on the day, the products on promotion
that week with their discount, and the new products with their launch days. The settings of
conf/simulator/behaviour.yaml are copied in as they were used.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from lakehouse.simulator.source_model import Context


def _listed(keys: list[str], limit: int) -> dict:
    return {"count": len(keys), "keys": sorted(keys)[:limit]}


def behaviour_truth(ctx: Context, first: int, last: int) -> dict[int, dict]:
    """day -> the behaviour section of that day's manifest."""
    cal, a, ep = ctx.calendar, ctx.world.assortment, ctx.episodes
    limit = ctx.settings.manifest_max_keys
    weeks = sorted({(d + a.start_weekday) // 7 for d in range(first, last + 1)})
    promoted: dict[int, dict[str, float]] = {w: {} for w in weeks}
    if weeks:
        grid = ctx.spark.range(ctx.settings.products).crossJoin(
            ctx.spark.createDataFrame([(w * 7 - a.start_weekday,) for w in weeks], "day int")
        )
        pidx, day = F.col("id"), F.col("day")
        rows = (
            grid.where(a.promoted(pidx, day))
            .select(
                a.week(day).alias("week"),
                ctx.world.product_id(pidx).alias("product_id"),
                F.round(a.discount(pidx, day), 2).alias("discount"),
            )
            .collect()
        )
        for r in rows:
            promoted[r.week][r.product_id] = float(r.discount)
    new = [
        {"product_id": f"P{p:07d}", "launch_day": cal.iso(d), "launch_day_index": d}
        for p, d in sorted(a.launches.items(), key=lambda x: (x[1], x[0]))
    ]
    out = {}
    for d in range(first, last + 1):
        on_promotion = promoted[(d + a.start_weekday) // 7]
        shown = sorted(on_promotion)[:limit]
        repeaters = [
            f"C{s * ctx.settings.behaviour.repeats.every_nth_customer:09d}"
            for s in ep.repeat_slots(d)
        ]
        out[d] = {
            "orders_by_kind": ep.kinds(d),
            "repeat_customers": _listed(repeaters, limit),
            "promotions": {
                "count": len(on_promotion),
                "discounts": {pid: on_promotion[pid] for pid in shown},
            },
            "new_products": new,
        }
    return out


def behaviour_settings(ctx: Context) -> dict:
    """conf/simulator/behaviour.yaml as the simulation used it (JSON-ready)."""
    return ctx.settings.behaviour.model_dump(mode="json")
