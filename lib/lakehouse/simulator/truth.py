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
from lakehouse.simulator.orders import life_span_days, order_events
from lakehouse.simulator.source_model import Context


def _money(value: Decimal | float | None) -> float:
    return round(float(value or 0), 2)


def _seen(rows: DataFrame, as_of: DataFrame, back: int) -> DataFrame:
    """For each as-of day: rows arrived by its end, fit for silver, of the last ``back`` days."""
    valid = F.col("_defect").isNull() | ~F.col("_defect").isin(*INVALID)
    base = F.col("_order_day") if "_order_day" in rows.columns else F.col("_day")
    return (
        rows.where(valid)
        .crossJoin(F.broadcast(as_of))
        .where((F.col("_arrival") <= F.col("_asof")) & (base >= F.col("_asof") - back))
    )


class Truth:
    def __init__(self, ctx: Context, defects: dict[str, Defects], small: bool = True):
        self.ctx, self.defects, self.small = ctx, defects, small

    def _reuse(self, df: DataFrame) -> DataFrame:
        """Small inputs read by several jobs are computed once (and their plans cut short)."""
        return df.localCheckpoint() if self.small else df

    @property
    def order_window(self) -> int:
        """Days after which an order date's figures can no longer change."""
        return life_span_days(self.ctx) + self.ctx.settings.late_max_days

    def _as_of(self, first: int, last: int) -> DataFrame:
        return self.ctx.spark.range(first, last + 1).select(F.col("id").cast("int").alias("_asof"))

    def orders(self, first: int, last: int) -> tuple[dict, dict]:
        """Totals per as-of day and order date; late order rows older than what arrived."""
        ctx, back = self.ctx, self.order_window
        start = max(0, first - back)
        orders_d, positions_d = self.defects["orders"], self.defects["order_positions"]
        as_of = self._as_of(first, last)
        events = orders_d.materialize(orders_d.annotate(order_events(ctx, start, last)))
        events = self._reuse(
            events.where(F.col("_arrival") <= last).select(
                "order_id",
                "_order_day",
                "channel",
                "shop_id",
                "status",
                "updated_at",
                "_arrival",
                "_defect",
                "_key",
            )
        )
        seen = _seen(events, as_of, back)
        state = seen.groupBy("_asof", "order_id", "_order_day", "channel", "shop_id").agg(
            F.max_by("status", "updated_at").alias("status")
        )
        lines = positions_d.materialize(positions_d.annotate(positions_d.model.rows(start, last)))
        latest = (
            _seen(lines, as_of, back)
            .groupBy("_asof", "order_id", "position_no")
            .agg(
                F.max_by(
                    F.struct("quantity", "unit_price"), F.struct("updated_at", "_variant")
                ).alias("v")
            )
        )
        amount = F.col("v.quantity") * F.col("v.unit_price")
        joined = latest.join(state, ["_asof", "order_id"])
        delivered = F.col("status") == "delivered"
        per_shop = (
            joined.groupBy("_asof", "_order_day", "channel", "shop_id")
            .agg(
                F.count(F.lit(1)).alias("positions"),
                F.sum(amount).alias("intake"),
                F.sum(F.when(delivered, amount)).alias("revenue"),
            )
            .collect()
        )
        per_status = state.groupBy("_asof", "_order_day", "status").count().collect()

        totals: dict[int, dict[str, dict]] = {}
        for day in range(first, last + 1):
            totals[day] = {
                ctx.calendar.iso(d): {
                    "orders": 0,
                    "positions": 0,
                    "order_intake": 0.0,
                    "revenue": 0.0,
                    "orders_by_status": {},
                    "by_channel": {},
                    "by_shop": {},
                }
                for d in range(max(0, day - back), day + 1)
            }
        for r in per_status:
            t = totals[r["_asof"]][ctx.calendar.iso(r["_order_day"])]
            t["orders"] += r["count"]
            t["orders_by_status"][r["status"]] = r["count"]
        order = ("_asof", "_order_day", "channel", "shop_id")
        for r in sorted(per_shop, key=lambda r: tuple(r[k] for k in order)):
            t = totals[r["_asof"]][ctx.calendar.iso(r["_order_day"])]
            t["positions"] += r["positions"]
            t["order_intake"] += float(r["intake"] or 0)
            t["revenue"] += float(r["revenue"] or 0)
            for group, name in (("by_channel", r["channel"]), ("by_shop", r["shop_id"])):
                g = t[group].setdefault(name, {"order_intake": 0.0, "revenue": 0.0})
                g["order_intake"] += float(r["intake"] or 0)
                g["revenue"] += float(r["revenue"] or 0)
        for per_date in totals.values():
            for t in per_date.values():
                t["order_intake"], t["revenue"] = _money(t["order_intake"]), _money(t["revenue"])
                t["orders_by_status"] = dict(sorted(t["orders_by_status"].items()))
                for group in ("by_channel", "by_shop"):
                    t[group] = {
                        k: {m: _money(v) for m, v in g.items()} for k, g in sorted(t[group].items())
                    }

        # Late rows that arrive after a newer version of the same order already has.
        arriving_late = events.where(
            (F.col("_defect") == "late") & F.col("_arrival").between(first, last)
        ).select(
            "order_id",
            "_key",
            F.col("_arrival").alias("_asof"),
            F.col("updated_at").alias("_late_at"),
        )
        newer = seen.select("_asof", "order_id", "updated_at")
        older = (
            arriving_late.join(newer, ["_asof", "order_id"])
            .where(F.col("updated_at") > F.col("_late_at"))
            .select("_asof", "_key")
            .distinct()
            .collect()
        )
        limit = ctx.settings.manifest_max_keys
        late_older = {}
        for day in range(first, last + 1):
            keys = sorted(r["_key"] for r in older if r["_asof"] == day)
            late_older[day] = {"count": len(keys), "keys": keys[:limit]}
        return totals, late_older

    def _recent(self, name: str, first: int, last: int) -> DataFrame:
        """Seen rows of a source whose figures can still change (the last late_max_days)."""
        d, back = self.defects[name], self.ctx.settings.late_max_days
        rows = d.materialize(d.annotate(d.model.rows(max(0, first - back), last)))
        return _seen(rows, self._as_of(first, last), back).dropDuplicates(["_asof", "_rid"])

    def pos_sales(self, first: int, last: int) -> dict[int, dict]:
        back = self.ctx.settings.late_max_days
        rows = (
            self._recent("pos_sales", first, last)
            .groupBy("_asof", "_day")
            .agg(
                F.countDistinct("receipt_no").alias("receipts"),
                F.count(F.lit(1)).alias("lines"),
                F.sum(F.col("qty") * F.col("unit_price_cents")).alias("cents"),
            )
            .collect()
        )
        iso = self.ctx.calendar.iso
        out = {
            day: {
                iso(x): {"receipts": 0, "lines": 0, "revenue": 0.0}
                for x in range(max(0, day - back), day + 1)
            }
            for day in range(first, last + 1)
        }
        for r in rows:
            out[r["_asof"]][iso(r["_day"])] = {
                "receipts": r["receipts"],
                "lines": r["lines"],
                "revenue": _money(r["cents"] / 100),
            }
        return out

    def web_events(self, first: int, last: int) -> dict[int, dict]:
        back = self.ctx.settings.late_max_days
        rows = (
            self._recent("web_events", first, last)
            .groupBy("_asof", "_day", "event_type")
            .count()
            .collect()
        )
        iso = self.ctx.calendar.iso
        out: dict[int, dict] = {
            day: {iso(x): {} for x in range(max(0, day - back), day + 1)}
            for day in range(first, last + 1)
        }
        for r in sorted(rows, key=lambda r: (r["_asof"], r["_day"], r["event_type"])):
            out[r["_asof"]][iso(r["_day"])][r["event_type"]] = r["count"]
        return out

    def as_of(self, first: int, last: int) -> dict[int, tuple[dict, dict]]:
        """Per day in [first, last]: the truth section of its manifest and the late older rows."""
        orders, late_older = self.orders(first, last)
        pos, web = self.pos_sales(first, last), self.web_events(first, last)
        return {
            day: (
                {
                    "as_of": self.ctx.calendar.iso(day),
                    "definitions": (__doc__ or "").strip(),
                    "orders_by_date": orders[day],
                    "pos_sales_by_date": pos[day],
                    "web_events_by_date": web[day],
                },
                late_older[day],
            )
            for day in range(first, last + 1)
        }
