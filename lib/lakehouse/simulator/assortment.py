"""The assortment as arithmetic: which product is which, what is on promotion, what is new.

Products are laid out by popularity rank. Rank r belongs to a category by a periodic pattern
(period = the sum of the categories' integer weights, the categories interleaved), and within
its category it has a rank k, whose brand is k modulo the category's brands. Both directions
are a few integer operations, so a line can draw "a popular product of category c, brand b"
without a join or a product list in the plan, and every system sees the same catalogue.
Ranks are scattered over the product ids by a multiplier coprime with the catalogue size.
"""

from __future__ import annotations

import math
from functools import cached_property

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.config.shopper_behaviour import Behaviour
from lakehouse.simulator.literals import literal_array
from lakehouse.simulator.rng import Rng, between


def coprime_step(n: int) -> int:
    """A multiplier that permutes 0..n-1, so product popularity does not follow id order."""
    for step in (7919, 104729, 1299709, 15485863):
        if math.gcd(step, n) == 1:
            return step
    return 1


def interleave(weights: list[int]) -> list[int]:
    """A period of sum(weights) slots, slot -> category, each category spread evenly
    (smooth weighted round robin)."""
    total, current, out = sum(weights), [0] * len(weights), []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        pick = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[pick] -= total
        out.append(pick)
    return out


def _at(values, index: Column) -> Column:
    """values[index] for a 0-based index column (of any integer type)."""
    return F.element_at(literal_array(values), (index + 1).cast("int"))


class Assortment:
    def __init__(
        self,
        products: int,
        catalogue: list[dict],
        behaviour: Behaviour,
        rng: Rng,
        skew: float,
        start_weekday: int = 0,
    ):
        self.n, self.rng, self.skew, self.behaviour = products, rng, skew, behaviour
        self.start_weekday = start_weekday  # of day 0, Monday = 0
        self.names = [c["category"] for c in catalogue]
        self.brands = [list(c["brands"]) for c in catalogue]
        self.weights = [max(1, round(c["weight"])) if c["weight"] > 0 else 0 for c in catalogue]
        self.pattern = interleave(self.weights)
        self.period = len(self.pattern)
        self.offsets = [[s for s, c in enumerate(self.pattern) if c == i] for i in self.cat_range]
        position = [0] * self.period
        for slots in self.offsets:
            for i, s in enumerate(slots):
                position[s] = i
        self.position = position
        full, rest = divmod(products, self.period)
        self.sizes = [
            full * w + sum(1 for s in slots if s < rest)
            for w, slots in zip(self.weights, self.offsets, strict=True)
        ]
        self.step = coprime_step(products)
        self.inverse = pow(self.step, -1, products) if products > 1 else 0
        self.shift = rng.seed % products
        self.launches = self._launches()

    def _launches(self) -> dict[int, int]:
        """New product id index -> its launch day (few: one per listed category)."""
        new = self.behaviour.new_products
        if new is None:
            return {}
        out = {}
        for name in new.categories:
            c = self.index(name)
            if self.sizes[c] > new.rank:
                pidx = self.pidx_of(c, new.rank)
                out[pidx] = self.rng.python("launch", pidx).randint(*new.launch_days)
        return out

    def pidx_of(self, c: int, k: int) -> int:
        """``product`` on the driver."""
        w = self.weights[c]
        rank = self.period * (k // w) + self.offsets[c][k % w]
        return (rank * self.step + self.shift) % self.n

    @property
    def cat_range(self) -> range:
        return range(len(self.names))

    def index(self, category: str) -> int:
        return self.names.index(category)

    def brand_count(self, c: int, b: int) -> int:
        """Products of category c whose brand is its b-th."""
        nb = len(self.brands[c])
        return max(0, -(-(self.sizes[c] - b) // nb))

    # ids and ranks -------------------------------------------------------------------------

    def pidx(self, rank: Column) -> Column:
        return F.pmod(rank * F.lit(self.step) + F.lit(self.shift), F.lit(self.n)).cast("long")

    def rank(self, pidx: Column) -> Column:
        return F.pmod((pidx - F.lit(self.shift)) * F.lit(self.inverse), F.lit(self.n)).cast("long")

    def category_of(self, pidx: Column) -> Column:
        return _at(self.pattern, F.pmod(self.rank(pidx), self.period))

    def cat_rank(self, pidx: Column) -> Column:
        """k: the product's popularity rank within its category (0 = best seller)."""
        r = self.rank(pidx)
        slot = F.pmod(r, self.period)
        weight = _at(self.weights, _at(self.pattern, slot))
        return (F.floor(r / self.period) * weight + _at(self.position, slot)).cast("long")

    def brand_index(self, pidx: Column, cat: Column) -> Column:
        nb = _at([len(b) for b in self.brands], cat)
        return F.pmod(self.cat_rank(pidx), nb).cast("int")

    def product(self, cat: Column, k: Column) -> Column:
        """The product of category ``cat`` at rank ``k`` within it."""
        weight = _at(self.weights, cat)
        starts = [sum(self.weights[:i]) for i in self.cat_range]
        flat = [s for slots in self.offsets for s in slots]
        slot = _at(flat, _at(starts, cat) + F.pmod(k, weight))
        return self.pidx(F.lit(self.period) * F.floor(k / weight) + slot)

    # draws ---------------------------------------------------------------------------------

    def _heavy(self, u: Column, size: Column) -> Column:
        """A rank in [0, size): the first ones likeliest (rank = size * u^skew)."""
        return F.least(F.floor(F.pow(u, self.skew) * size), size - 1).cast("long")

    @cached_property
    def _brand_starts(self) -> list[int]:
        return [sum(len(b) for b in self.brands[:i]) for i in self.cat_range]

    def draw(self, cat: Column, u: Column, brand: Column | None = None) -> Column:
        """A product of category ``cat`` by popularity; of its ``brand``-th brand when given
        (not null) and the category has products of it."""
        size = _at(self.sizes, cat)
        any_k = self._heavy(u, size)
        if brand is None:
            return self.product(cat, any_k)
        counts = [
            self.brand_count(c, b) for c in self.cat_range for b in range(len(self.brands[c]))
        ]
        in_brand = _at(counts, _at(self._brand_starts, cat) + brand)
        nb = _at([len(b) for b in self.brands], cat)
        brand_k = brand + nb * self._heavy(u, in_brand)
        k = F.when(brand.isNotNull() & (in_brand > 0), brand_k).otherwise(any_k)
        return self.product(cat, k)

    def popular(self, u: Column) -> Column:
        """A product by overall popularity (the rank drawn heavy-tailed over all products)."""
        rank = F.least(F.floor(F.pow(u, self.skew) * self.n), F.lit(self.n - 1)).cast("long")
        return self.pidx(rank)

    # promotions and launches ---------------------------------------------------------------

    def week(self, day: Column) -> Column:
        """Calendar weeks, Monday to Sunday, numbered from the simulation's first week."""
        return F.floor((day + F.lit(self.start_weekday)) / 7).cast("int")

    def promoted(self, pidx: Column, day: Column) -> Column:
        promo = self.behaviour.promotions
        return self.rng.u("promo", pidx, self.week(day)) < promo.product_share

    def discount(self, pidx: Column, day: Column) -> Column:
        """The promotion's discount (a share) on ``day``; 0 when not promoted."""
        low, high = self.behaviour.promotions.discount_pct
        depth = between(self.rng.u("promo_depth", pidx, self.week(day)), low, high) / 100.0
        return F.when(self.promoted(pidx, day), depth).otherwise(F.lit(0.0))

    def launch_day(self, pidx: Column) -> Column:
        """The day a new product comes out; 0 for the others (in the catalogue from the start)."""
        if not self.launches:
            return F.lit(0)
        pairs = sorted(self.launches.items())
        days = F.create_map(*[x for p, d in pairs for x in (F.lit(p).cast("long"), F.lit(d))])
        return F.coalesce(F.element_at(days, pidx.cast("long")), F.lit(0))

    def ramp(self, pidx: Column, day: Column) -> Column:
        """A product's share of its demand on ``day``: 0 before launch, rising to 1."""
        if not self.launches:
            return F.lit(1.0)
        ramp_days = self.behaviour.new_products.ramp_days
        since = (day - self.launch_day(pidx) + 1).cast("double")
        return F.least(F.greatest(since / ramp_days, F.lit(0.0)), F.lit(1.0))

    def launched(self, pidx: Column, cat: Column, day: Column) -> Column:
        """``pidx``, or the category's best seller (never new) while it is not out yet."""
        if not self.launches:
            return pidx
        return F.when(day >= self.launch_day(pidx), pidx).otherwise(self.product(cat, F.lit(0)))
