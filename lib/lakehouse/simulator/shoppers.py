"""Shoppers with tastes: what a line of a (known or anonymous) customer buys on a day.

A known customer belongs to a segment (conf/simulator/behaviour.yaml) and drifts slowly
towards a second one; most of their lines follow their segment's category weights, the rest
the shop's overall mix. Every category's weight follows its weekly and yearly season. Within
the category, a loyal line stays with the customer's preferred brand, and the product is the
better of two popular candidates, where a promotion weighs more for a price-sensitive
customer and a new product weighs what its ramp-up has reached.
"""

from __future__ import annotations

import math
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.config.shopper_behaviour import Behaviour
from lakehouse.simulator.assortment import Assortment, _at
from lakehouse.simulator.literals import literal_array
from lakehouse.simulator.rng import Rng, between, weighted_index


class Shoppers:
    def __init__(self, behaviour: Behaviour, rng: Rng, assortment: Assortment, start: date):
        self.b, self.rng, self.a, self.start = behaviour, rng, assortment, start
        self.segments = list(behaviour.segments)
        segs = list(behaviour.segments.values())
        self.shares = [s.share for s in segs]
        names = assortment.names
        # Taste weight of category c for segment s; a category without products weighs 0.
        self.taste = [[s.categories.get(c, behaviour.others) for c in names] for s in segs]
        self.base = [
            w if n > 0 else 0 for w, n in zip(assortment.weights, assortment.sizes, strict=True)
        ]
        self.loyalty = [s.brand_loyalty for s in segs]
        self.sensitivity = [s.price_sensitivity for s in segs]
        # Cumulative shares of a category's brands for a segment (its preferred brand draw).
        self.brand_bounds = []
        for s in segs:
            for brands in assortment.brands:
                weights = [s.brands.get(b, 1.0) for b in brands]
                total, running, bounds = sum(weights), 0.0, []
                for w in weights[:-1]:
                    running += w
                    bounds.append(running / total)
                self.brand_bounds.append(bounds)

    # who -----------------------------------------------------------------------------------

    def segment(self, cidx: Column, which: str = "segment") -> Column:
        return weighted_index(self.rng.u(which, cidx), self.shares)

    def drift(self, cidx: Column, day: Column) -> Column:
        """The share of the customer's taste lines that follow their second segment."""
        d = self.b.drift
        begins = between(self.rng.u("drift_start", cidx), *d.start_days)
        over = between(self.rng.u("drift_over", cidx), *d.over_days)
        progress = (day - begins).cast("double") / over
        return F.lit(d.max_share) * F.least(F.greatest(progress, F.lit(0.0)), F.lit(1.0))

    def price_sensitivity(self, seg: Column) -> Column:
        known = _at(self.sensitivity, seg)
        return F.coalesce(known, F.lit(self.b.promotions.anonymous_sensitivity))

    # what ----------------------------------------------------------------------------------

    def season(self, c: int, day: Column) -> Column | None:
        """Category c's seasonal factor on ``day``; None when flat."""
        s = self.b.seasonality.get(self.a.names[c])
        if s is None:
            return None
        weekday = F.pmod(day + F.lit(self.start.weekday()), 7)
        factor = _at(s.weekly, weekday)
        if s.amplitude:
            doy = F.dayofyear(F.date_add(F.lit(self.start), day.cast("int")))
            angle = (doy - F.lit(s.peak_day_of_year)) * (2 * math.pi / 365.25)
            factor = factor * (F.lit(1.0) + F.lit(s.amplitude) * F.cos(angle))
        return factor

    def with_category(self, df: DataFrame, cidx: str | None, day: str, keys: list) -> DataFrame:
        """``df`` with ``_seg`` (the customer's segment, null when anonymous) and ``_cat``."""
        rng, d = self.rng, F.col(day)
        known = F.col(cidx).isNotNull() if cidx else F.lit(False)
        c = F.col(cidx) if cidx else F.lit(None).cast("long")
        seg1, seg2 = self.segment(c), self.segment(c, "segment2")
        follows = F.when(rng.u("drift_line", *keys) < self.drift(c, d), seg2).otherwise(seg1)
        tastes = known & (rng.u("taste", *keys) < self.b.taste_share)
        df = df.withColumns({"_seg": F.when(known, seg1), "_follows": F.when(tastes, follows)})
        weights = {}
        for i in self.a.cat_range:
            if not self.base[i]:
                continue
            w = F.lit(float(self.base[i]))
            season = self.season(i, d)
            if season is not None:
                w = w * season
            taste = _at([t[i] for t in self.taste], F.col("_follows"))
            weights[f"_w{i}"] = w * F.coalesce(taste, F.lit(1.0))
        df = df.withColumns(weights)
        total = sum((F.col(n) for n in weights), F.lit(0.0))
        target = rng.u("category", *keys) * total
        names = list(weights)
        cat = F.lit(int(names[-1][2:]))
        running = [F.col(names[0])]
        for n in names[1:-1]:
            running.append(running[-1] + F.col(n))
        for n, bound in reversed(list(zip(names[:-1], running, strict=True))):
            cat = F.when(target < bound, F.lit(int(n[2:]))).otherwise(cat)
        return df.withColumn("_cat", cat.cast("int")).drop("_follows", *names)

    def preferred_brand(self, cidx: Column, seg: Column, cat: Column) -> Column:
        """The customer's brand within the category: a draw weighted by their segment."""
        bounds = F.element_at(
            F.array(
                *[
                    literal_array(b) if b else F.array().cast("array<double>")
                    for b in self.brand_bounds
                ]
            ),
            (seg * len(self.a.names) + cat + 1).cast("int"),
        )
        u = self.rng.u("brand_pref", cidx, cat)
        return F.size(F.filter(bounds, lambda x: x <= u))

    def with_product(
        self, df: DataFrame, cidx: str | None, day: str, keys: list, out: str = "_pidx"
    ) -> DataFrame:
        """``df`` (with ``_seg`` and ``_cat``) with the product bought, ``out``."""
        rng, d, cat, seg = self.rng, F.col(day), F.col("_cat"), F.col("_seg")
        c = F.col(cidx) if cidx else F.lit(None).cast("long")
        loyal = seg.isNotNull() & (rng.u("loyal", *keys) < _at(self.loyalty, seg))
        df = df.withColumns(
            {
                "_brand": F.when(loyal, self.preferred_brand(c, seg, cat)),
                "_sens": self.price_sensitivity(seg),
            }
        )
        brand = F.col("_brand")
        df = df.withColumns(
            {
                "_pa": self.a.draw(cat, rng.u("pick_a", *keys), brand),
                "_pb": self.a.draw(cat, rng.u("pick_b", *keys), brand),
            }
        )
        lift = F.lit(self.b.promotions.lift) * F.col("_sens")

        def weight(p: Column) -> Column:
            promoted = F.when(self.a.promoted(p, d), lift).otherwise(F.lit(0.0))
            return (F.lit(1.0) + promoted) * self.a.ramp(p, d)

        df = df.withColumns({"_wa": weight(F.col("_pa")), "_wb": weight(F.col("_pb"))})
        both = F.col("_wa") + F.col("_wb")
        chosen = (
            F.when(both <= 0, self.a.product(cat, F.lit(0)))
            .when(rng.u("pick", *keys) * both < F.col("_wa"), F.col("_pa"))
            .otherwise(F.col("_pb"))
        )
        return df.withColumn(out, chosen).drop("_pa", "_pb", "_wa", "_wb", "_brand")

    def extra_unit(self, keys: list, pidx: Column, day: Column) -> Column:
        """1 when a price-sensitive customer takes one more of a promoted product, else 0."""
        chance = F.lit(self.b.promotions.extra_unit) * F.col("_sens")
        more = self.a.promoted(pidx, day) & (self.rng.u("promo_unit", *keys) < chance)
        return F.when(more, 1).otherwise(0)
