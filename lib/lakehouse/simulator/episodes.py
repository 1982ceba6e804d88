"""Orders that belong to a customer's story: anchors, their follow-ups, and repeat purchases.

A day's order indices are split, without changing how many there are: the sign-ups' first
orders, then anchor orders (a phone, a printer: first line fixed), then follow-ups (the
customer of an anchor order of the days before comes back for a complement), then repeat
purchases (customers whose own interval falls on the day buy their consumable), then the
other returning customers. Every choice is arithmetic or a seeded hash of the order's day and
index, so any day is computed alone: a follow-up recomputes its anchor order from the
anchor's day and index, and the repeat buyers of a day are enumerated, not searched for.
"""

from __future__ import annotations

from functools import cached_property

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.config.shopper_behaviour import Behaviour
from lakehouse.simulator.assortment import Assortment, _at
from lakehouse.simulator.calendar import Calendar, per_day
from lakehouse.simulator.literals import literal_array
from lakehouse.simulator.rng import Rng, between, weighted_index
from lakehouse.simulator.shoppers import Shoppers

KINDS = ("new", "anchor", "follow_up", "repeat", "regular")


def returning_customer(u: Column, existing: Column) -> Column:
    """Loyal customers (low ids, the oldest) order more often than recent ones."""
    return F.least(F.floor(F.pow(u, 1.4) * existing), existing - 1).cast("long")


class Episodes:
    def __init__(
        self,
        behaviour: Behaviour,
        calendar: Calendar,
        rng: Rng,
        assortment: Assortment,
        shoppers: Shoppers,
    ):
        self.b, self.cal, self.rng, self.a, self.shoppers = (
            behaviour,
            calendar,
            rng,
            assortment,
            shoppers,
        )
        a = assortment
        self.pairs = []  # (anchor category, its complement categories with products, same brand)
        for p in behaviour.complements.pairs:
            ccs = [a.index(c) for c in p.complements if a.sizes[a.index(c)] > 0]
            if a.sizes[a.index(p.anchor)] > 0 and ccs:
                self.pairs.append((a.index(p.anchor), ccs, p.same_brand))
        rep = behaviour.repeats
        self.consumables = [
            (a.index(c), w) for c, w in rep.categories.items() if a.sizes[a.index(c)]
        ]
        self.intervals = list(rep.intervals_days)
        mean_orders = calendar.settings.positions_per_day / calendar.mean_basket["web"]
        per_slot = sum(1 / t for t in self.intervals) / len(self.intervals)
        self.slots = round(rep.order_share * mean_orders / per_slot) if self.consumables else 0

    # the plan of a day, on the driver ------------------------------------------------------

    def anchors(self, day: int) -> int:
        return round(self.cal.orders(day) * self.b.complements.anchor_share) if self.pairs else 0

    def follow_ups(self, day: int) -> int:
        share = self.b.complements.follow_up_share
        return round(self.cal.orders(day) * share) if self.pairs and day >= 1 else 0

    def repeat_starts(self, day: int) -> list[int]:
        """Per interval, the first repeat slot of the day that has it (buyers ordered by
        interval). Slot s has interval t = s mod n and phase (s div n) mod interval."""
        n = len(self.intervals)
        active = min(
            self.slots, -(-self.cal.customers_before(day) // self.b.repeats.every_nth_customer)
        )
        starts, running = [], 0
        for t, interval in enumerate(self.intervals):
            starts.append(running)
            free = active - t - n * (day % interval)
            running += max(0, -(-free // (n * interval)))
        return [*starts, running]

    def repeats(self, day: int) -> int:
        room = self.cal.orders(day) - self.cal.new_customers(day) - self.anchors(day)
        return max(0, min(self.repeat_starts(day)[-1], room - self.follow_ups(day)))

    def repeat_slots(self, day: int) -> list[int]:
        """The repeat slots buying on ``day``, in the order of their orders (on the driver:
        the manifest's ground truth); slot s is customer s * every_nth_customer."""
        starts, count, n = self.repeat_starts(day), self.repeats(day), len(self.intervals)
        out = []
        for t, interval in enumerate(self.intervals):
            for i in range(starts[t + 1] - starts[t]):
                if starts[t] + i >= count:
                    return out
                out.append(t + n * (day % interval + interval * i))
        return out

    def kinds(self, day: int) -> dict[str, int]:
        """Orders of the day by kind (a follow-up whose anchor day had no anchor is regular)."""
        counts = {
            "new": self.cal.new_customers(day),
            "anchor": self.anchors(day),
            "follow_up": self.follow_ups(day),
            "repeat": self.repeats(day),
        }
        counts["regular"] = self.cal.orders(day) - sum(counts.values())
        return counts

    # the orders, in Spark -------------------------------------------------------------------

    def annotate(self, orders: DataFrame, first: int, last: int) -> DataFrame:
        """``orders`` (``_day``, ``idx``, ``_cidx`` as drawn for a returning customer) with
        ``_kind``, the story's customer in ``_cidx``, and the fixed lines: ``_fix1`` (first
        line's product), ``_fix2`` (second line's, same basket), ``_fix_qty``."""
        cal, rng, K = self.cal, self.rng, self.b.complements.max_lag
        lo = max(0, first - K)
        day, oidx = F.col("_day"), F.col("idx")

        def at(value, d: Column) -> Column:
            # clamped: a row that is not of the kind still computes the lookup's index
            return per_day(lo, last, value, F.least(F.greatest(d, F.lit(lo)), F.lit(last)))

        n1 = at(cal.new_customers, day) + at(self.anchors, day)
        n2 = n1 + at(self.follow_ups, day)
        n3 = n2 + at(self.repeats, day)
        f = oidx - n1
        lag = F.lit(1) + F.floor(rng.u("lag", day, f) * F.least(F.lit(K), day)).cast("int")
        aday = day - lag
        aidx = at(cal.new_customers, aday) + F.floor(
            rng.u("anchor_pick", day, f) * at(self.anchors, aday)
        )
        # a follow-up whose anchor day had no anchor orders is a regular order
        kind = (
            F.when(oidx < at(cal.new_customers, day), "new")
            .when(oidx < n1, "anchor")
            .when((oidx < n2) & (at(self.anchors, aday) > 0), "follow_up")
            .when(oidx < n2, "regular")
            .when(oidx < n3, "repeat")
            .otherwise("regular")
        )
        df = orders.withColumn("_kind", kind)
        follow, anchor = F.col("_kind") == "follow_up", F.col("_kind") == "anchor"
        df = df.withColumns(
            {
                "_aday": F.when(follow, aday).when(anchor, day),
                "_aidx": F.when(follow, aidx).when(anchor, oidx).cast("long"),
            }
        )
        acust = returning_customer(
            rng.u("returning", F.col("_aday"), F.col("_aidx")),
            at(cal.customers_before, F.col("_aday")),
        )
        df = df.withColumn("_cidx", F.when(follow, acust).otherwise(F.col("_cidx")))
        df = self._anchor_product(df)
        # One complement per order at most: a follow-up's first line, or an anchor's second.
        same_basket = rng.u("same_basket", day, oidx) < self.b.complements.same_basket
        df = df.withColumn(
            "_cu",
            F.when(follow, rng.u("complement", day, f)).when(
                anchor & same_basket, rng.u("complement", day, oidx)
            ),
        )
        df = self._complement(df)
        df = self._repeat(df, lo, last)
        fix1 = F.when(anchor, F.col("_ap")).when(follow, F.col("_comp"))
        return df.withColumns(
            {
                "_fix1": F.when(F.col("_kind") == "repeat", F.col("_rp")).otherwise(fix1),
                "_fix2": F.when(anchor, F.col("_comp")),
                "_fix_qty": F.col("_rq"),
            }
        ).drop("_aday", "_aidx", "_ap", "_acat", "_cu", "_comp", "_rp", "_rq")

    def _anchor_product(self, df: DataFrame) -> DataFrame:
        """``_ap``, ``_acat``: the first line of the anchor order (``_aday``, ``_aidx``),
        bought by ``_cidx``. Recomputed the same way for the follow-ups."""
        if not self.pairs:
            return df.withColumns(
                {"_ap": F.lit(None).cast("long"), "_acat": F.lit(None).cast("int")}
            )
        rng, a, s = self.rng, self.a, self.shoppers
        d, i, cust = F.col("_aday"), F.col("_aidx"), F.col("_cidx")
        weights = [s.base[c] for c, _, _ in self.pairs]
        pick = weighted_index(rng.u("anchor_cat", d, i), weights)
        df = df.withColumns(
            {
                "_acat": F.when(d.isNotNull(), _at([c for c, _, _ in self.pairs], pick)),
                "_aseg": s.segment(cust),
            }
        )
        cat, seg = F.col("_acat"), F.col("_aseg")
        loyal = d.isNotNull() & (rng.u("anchor_loyal", d, i) < _at(s.loyalty, seg))
        df = df.withColumn("_abrand", F.when(loyal, s.preferred_brand(cust, seg, cat)))
        drawn = a.draw(cat, rng.u("anchor_product", d, i), F.col("_abrand"))
        df = df.withColumn("_ap0", F.when(d.isNotNull(), drawn))
        p = F.col("_ap0")
        # a new product is anchored as much as its ramp-up has reached
        ramped = rng.u("anchor_ramp", d, i) < a.ramp(p, d)
        ap = F.when(d.isNull(), None).when(ramped, p).otherwise(a.product(cat, F.lit(0)))
        return df.withColumn("_ap", ap.cast("long")).drop("_ap0", "_aseg", "_abrand")

    @cached_property
    def _complement_brands(self) -> dict[tuple[int, int], list[int | None]]:
        """(anchor category, complement category) -> per anchor brand, the same brand's index
        in the complement category (None: it does not carry it)."""
        out = {}
        for anchor, ccs, same in self.pairs:
            if same:
                for cc in ccs:
                    theirs = self.a.brands[cc]
                    out[anchor, cc] = [
                        theirs.index(b) if b in theirs else None for b in self.a.brands[anchor]
                    ]
        return out

    def _complement(self, df: DataFrame) -> DataFrame:
        """``_comp``: where ``_cu`` is set, a complement of the anchor product ``_ap``
        (category ``_acat``): a complement category drawn by ``_cu``, then the product that
        fits the anchor product (the same one every time)."""
        if not self.pairs:
            return df.withColumn("_comp", F.lit(None).cast("long"))
        a, u, acat = self.a, F.col("_cu"), F.col("_acat")
        cc, brand = None, None
        for anchor, ccs, same in self.pairs:
            which = F.floor(u * len(ccs)).cast("int")
            this_cc = _at(ccs, which)
            cc = F.when(acat == anchor, this_cc) if cc is None else cc.when(acat == anchor, this_cc)
            if same:
                per_cc = [self._complement_brands[anchor, c] for c in ccs]
                options = F.element_at(
                    F.array(*[literal_array(b).cast("array<int>") for b in per_cc]), which + 1
                )
                this_brand = F.element_at(options, a.brand_index(F.col("_ap"), acat) + 1)
                brand = (
                    F.when(acat == anchor, this_brand)
                    if brand is None
                    else brand.when(acat == anchor, this_brand)
                )
        df = df.withColumns(
            {
                "_ccat": F.when(u.isNotNull(), cc),
                "_cbrand": brand if brand is not None else F.lit(None).cast("int"),
            }
        )
        fits = a.draw(
            F.col("_ccat"), self.rng.u("fits", F.col("_ap"), F.col("_ccat")), F.col("_cbrand")
        )
        df = df.withColumn("_comp0", F.when(u.isNotNull(), fits))
        comp = a.launched(F.col("_comp0"), F.col("_ccat"), F.col("_day"))
        return df.withColumn("_comp", F.when(u.isNotNull(), comp)).drop(
            "_ccat", "_cbrand", "_comp0"
        )

    def _repeat(self, df: DataFrame, lo: int, last: int) -> DataFrame:
        """Repeat orders: the slot's customer in ``_cidx``, ``_rp`` its consumable, ``_rq``
        its quantity."""
        if not self.slots:
            return df.withColumns({"_rp": F.lit(None).cast("long"), "_rq": F.lit(None).cast("int")})
        rng, a, n = self.rng, self.a, len(self.intervals)
        day, rep = F.col("_day"), F.col("_kind") == "repeat"
        first = per_day(
            lo,
            last,
            lambda d: self.cal.new_customers(d) + self.anchors(d) + self.follow_ups(d),
            day,
        )
        j = F.col("idx") - first
        starts = per_day(lo, last, lambda d: self.repeat_starts(d)[:-1], day)
        t = F.greatest(F.size(F.filter(starts, lambda x: x <= j)) - 1, F.lit(0))
        interval = _at(self.intervals, t)
        m = F.pmod(day, interval) + interval * (j - F.element_at(starts, t + 1))
        slot = (t + F.lit(n) * m).cast("long")
        df = df.withColumn("_slot", F.when(rep, slot))
        s = F.col("_slot")
        cat = F.element_at(
            literal_array([c for c, _ in self.consumables]),
            weighted_index(rng.u("consumable_cat", s), [w for _, w in self.consumables]) + 1,
        )
        product = a.launched(a.draw(cat, rng.u("consumable", s)), cat, day)
        qty = between(rng.u("consumable_qty", s), *self.b.repeats.quantity)
        return df.withColumns(
            {
                "_cidx": F.when(rep, s * self.b.repeats.every_nth_customer).otherwise(
                    F.col("_cidx")
                ),
                "_rp": F.when(rep, product),
                "_rq": F.when(rep, qty).cast("int"),
            }
        ).drop("_slot")
