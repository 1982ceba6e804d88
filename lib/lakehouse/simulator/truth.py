"""The totals a correct pipeline reproduces, computed from the records the files carry.

It replays the defect draws on the clean records and keeps what a pipeline can see by the
end of a day: records that have arrived (late ones on their arrival day), that are valid
(malformed, incomplete, absurd or dangling rows are quarantined) and, per business key,
the latest version by ``updated_at``. Then:

- order intake of an order date = sum(unit_price * quantity) over the positions of every
  order placed that day (any status, cancelled included);
- revenue = the same, only for orders whose latest status is 'delivered' (returned and
  cancelled orders bring none);
- the order date is the UTC date of ``order_ts``; POS sales count by the UTC date of
  ``sold_at``; web events by the UTC date of ``event_time``.

Figures for dates older than the window can no longer change; earlier manifests hold them.
"""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.simulator.defects import INVALID, Defects
from lakehouse.simulator.model import Context
from lakehouse.simulator.orders import life_span_days, order_events


def _money(value: Decimal | float | None) -> float:
    return round(float(value or 0), 2)


def _seen(rows: DataFrame, day: int) -> DataFrame:
    """Arrived by the end of ``day`` and fit for silver."""
    valid = F.col("_defect").isNull() | ~F.col("_defect").isin(*INVALID)
    return rows.where((F.col("_day") + F.col("_lag") <= day) & valid)


class Truth:
    def __init__(self, ctx: Context, defects: dict[str, Defects]):
        self.ctx, self.defects = ctx, defects

    def window(self, day: int) -> int:
        return max(0, day - life_span_days(self.ctx) - self.ctx.settings.late_max_days)

    def orders(self, day: int) -> tuple[dict, dict]:
        """Totals per order date, and the late order rows that are older than what arrived."""
        ctx, first = self.ctx, self.window(day)
        orders_d, positions_d = self.defects["orders"], self.defects["order_positions"]
        events = orders_d.materialize(orders_d.annotate(order_events(ctx, first, day)))
        seen = _seen(events, day)
        state = seen.groupBy("order_id", "_order_day", "channel", "shop_id").agg(
            F.max_by("status", "updated_at").alias("status")
        )
        lines = positions_d.materialize(positions_d.annotate(positions_d.model.rows(first, day)))
        latest = (
            _seen(lines, day)
            .groupBy("order_id", "position_no")
            .agg(
                F.max_by(
                    F.struct("quantity", "unit_price"), F.struct("updated_at", "_variant")
                ).alias("v")
            )
        )
        amount = F.col("v.quantity") * F.col("v.unit_price")
        joined = latest.join(state, "order_id")
        delivered = F.col("status") == "delivered"
        per_shop = (
            joined.groupBy("_order_day", "channel", "shop_id")
            .agg(
                F.count(F.lit(1)).alias("positions"),
                F.sum(amount).alias("intake"),
                F.sum(F.when(delivered, amount)).alias("revenue"),
            )
            .collect()
        )
        per_status = state.groupBy("_order_day", "status").count().collect()

        totals: dict[str, dict] = {}
        for d in range(first, day + 1):
            totals[ctx.calendar.iso(d)] = {
                "orders": 0,
                "positions": 0,
                "order_intake": 0.0,
                "revenue": 0.0,
                "orders_by_status": {},
                "by_channel": {},
                "by_shop": {},
            }
        for r in per_status:
            t = totals[ctx.calendar.iso(r["_order_day"])]
            t["orders"] += r["count"]
            t["orders_by_status"][r["status"]] = r["count"]
        for r in sorted(per_shop, key=lambda r: (r["_order_day"], r["channel"], r["shop_id"])):
            t = totals[ctx.calendar.iso(r["_order_day"])]
            t["positions"] += r["positions"]
            t["order_intake"] += float(r["intake"] or 0)
            t["revenue"] += float(r["revenue"] or 0)
            for group, name in (("by_channel", r["channel"]), ("by_shop", r["shop_id"])):
                g = t[group].setdefault(name, {"order_intake": 0.0, "revenue": 0.0})
                g["order_intake"] += float(r["intake"] or 0)
                g["revenue"] += float(r["revenue"] or 0)
        for t in totals.values():
            t["order_intake"], t["revenue"] = _money(t["order_intake"]), _money(t["revenue"])
            t["orders_by_status"] = dict(sorted(t["orders_by_status"].items()))
            for group in ("by_channel", "by_shop"):
                t[group] = {
                    k: {m: _money(v) for m, v in g.items()} for k, g in sorted(t[group].items())
                }

        arriving_late = events.where(
            (F.col("_defect") == "late") & (F.col("_day") + F.col("_lag") == day)
        ).select("order_id", "_key", F.col("updated_at").alias("_late_at"))
        newer = seen.select("order_id", "updated_at")
        older = (
            arriving_late.join(newer, "order_id")
            .where(F.col("updated_at") > F.col("_late_at"))
            .select("_key")
            .distinct()
            .collect()
        )
        keys = sorted(r["_key"] for r in older)
        limit = ctx.settings.manifest_max_keys
        return totals, {"count": len(keys), "keys": keys[:limit]}

    def pos_sales(self, day: int) -> dict:
        d = self.defects["pos_sales"]
        first = max(0, day - self.ctx.settings.late_max_days)
        seen = _seen(d.materialize(d.annotate(d.model.rows(first, day))), day)
        lines = seen.dropDuplicates(["_rid"])
        rows = (
            lines.groupBy("_day")
            .agg(
                F.countDistinct("receipt_no").alias("receipts"),
                F.count(F.lit(1)).alias("lines"),
                F.sum(F.col("qty") * F.col("unit_price_cents")).alias("cents"),
            )
            .collect()
        )
        out = {
            self.ctx.calendar.iso(x): {"receipts": 0, "lines": 0, "revenue": 0.0}
            for x in range(first, day + 1)
        }
        for r in rows:
            out[self.ctx.calendar.iso(r["_day"])] = {
                "receipts": r["receipts"],
                "lines": r["lines"],
                "revenue": _money(r["cents"] / 100),
            }
        return out

    def web_events(self, day: int) -> dict:
        d = self.defects["web_events"]
        first = max(0, day - self.ctx.settings.late_max_days)
        seen = _seen(d.materialize(d.annotate(d.model.rows(first, day))), day)
        rows = seen.dropDuplicates(["_rid"]).groupBy("_day", "event_type").count().collect()
        out: dict[str, dict] = {self.ctx.calendar.iso(x): {} for x in range(first, day + 1)}
        for r in sorted(rows, key=lambda r: (r["_day"], r["event_type"])):
            out[self.ctx.calendar.iso(r["_day"])][r["event_type"]] = r["count"]
        return out

    def as_of(self, day: int) -> tuple[dict, dict]:
        orders, late_older = self.orders(day)
        truth = {
            "as_of": self.ctx.calendar.iso(day),
            "definitions": (__doc__ or "").strip(),
            "orders_by_date": orders,
            "pos_sales_by_date": self.pos_sales(day),
            "web_events_by_date": self.web_events(day),
        }
        return truth, late_older
