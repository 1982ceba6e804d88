"""How the simulator's shoppers behave (``conf/simulator/behaviour.yaml``): tastes,
complements, repeat purchases, promotions, seasonality and new products. The volumes and
defects do not depend on it. ``load_behaviour`` also checks every named category and brand
against the world's catalogue."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from lakehouse.config.reading import ConfigError, load
from lakehouse.config.yaml_model import ConfigModel, Flag, Int, Number, Text, problem


def _check_range(key: str, pair: tuple, low: float, kind: str = "days") -> None:
    if len(pair) != 2 or pair[0] > pair[1] or pair[0] < low:
        raise problem(key, f"expected [min, max] {kind} with {low} <= min <= max")


def _check_shares(model: ConfigModel, names: tuple[str, ...], below_one: bool = False) -> None:
    for name in names:
        value = getattr(model, name)
        if not 0 <= value <= 1 or (below_one and value == 1):
            raise problem(name, "a share between 0 and 1")


class Segment(ConfigModel):
    share: Number = Field(description="weight of the segment among known customers")
    categories: dict[str, Number] = Field({}, description="category: affinity weight")
    brands: dict[str, Number] = Field({}, description="brand: affinity weight")
    brand_loyalty: Number = 0.0
    price_sensitivity: Number = 0.5

    @model_validator(mode="after")
    def _shares(self) -> Segment:
        _check_shares(self, ("brand_loyalty", "price_sensitivity"))
        weights = (self.share, *self.categories.values(), *self.brands.values())
        if any(w < 0 for w in weights):
            raise problem("", "shares and weights cannot be negative")
        return self


class Drift(ConfigModel):
    max_share: Number
    start_days: tuple[Int, ...]
    over_days: tuple[Int, ...]

    @model_validator(mode="after")
    def _ranges(self) -> Drift:
        _check_shares(self, ("max_share",))
        _check_range("start_days", self.start_days, -100_000)
        _check_range("over_days", self.over_days, 1)
        return self


class Pair(ConfigModel):
    anchor: Text
    complements: tuple[Text, ...]
    same_brand: Flag = False


class Complements(ConfigModel):
    anchor_share: Number
    follow_up_share: Number
    same_basket: Number
    follow_up_days: tuple[Int, ...]
    pairs: tuple[Pair, ...]

    @model_validator(mode="after")
    def _shares(self) -> Complements:
        _check_shares(self, ("anchor_share", "follow_up_share", "same_basket"), below_one=True)
        _check_range("follow_up_days", self.follow_up_days, 1)
        if not self.pairs:
            raise problem("pairs", "name at least one anchor and its complements")
        return self

    @property
    def max_lag(self) -> int:
        return self.follow_up_days[-1]


class Repeats(ConfigModel):
    order_share: Number
    every_nth_customer: Int
    intervals_days: tuple[Int, ...]
    quantity: tuple[Int, ...]
    categories: dict[str, Number]

    @model_validator(mode="after")
    def _ranges(self) -> Repeats:
        _check_shares(self, ("order_share",), below_one=True)
        if self.every_nth_customer < 1:
            raise problem("every_nth_customer", "must be at least 1")
        if not self.intervals_days or min(self.intervals_days) < 1:
            raise problem("intervals_days", "a list of days, each at least 1")
        _check_range("quantity", self.quantity, 1, "units")
        if not self.categories or min(self.categories.values()) <= 0:
            raise problem("categories", "categories with positive weights")
        return self


class Promotions(ConfigModel):
    product_share: Number
    discount_pct: tuple[Int, ...]
    lift: Number
    anonymous_sensitivity: Number
    extra_unit: Number

    @model_validator(mode="after")
    def _ranges(self) -> Promotions:
        _check_shares(self, ("product_share", "anonymous_sensitivity", "extra_unit"))
        _check_range("discount_pct", self.discount_pct, 0, "percent")
        if self.discount_pct[1] >= 100 or self.lift < 0:
            raise problem("", "discounts below 100 % and a lift of at least 0")
        return self


class Season(ConfigModel):
    weekly: tuple[Number, ...] = Field((1.0,) * 7, description="seven factors, Monday first")
    amplitude: Number = Field(0.0, description="the yearly swing, a share of the mean")
    peak: Text = Field("01-01", description="the yearly peak, MM-DD")

    @model_validator(mode="after")
    def _shape(self) -> Season:
        if len(self.weekly) != 7 or min(self.weekly) < 0:
            raise problem("weekly", "seven factors, Monday first, none negative")
        if not 0 <= self.amplitude < 1:
            raise problem("amplitude", "between 0 and 1 (a share of the mean)")
        try:
            date.fromisoformat(f"2001-{self.peak}")
        except ValueError:
            raise problem("peak", f"a day as MM-DD, got {self.peak!r}") from None
        return self

    @property
    def peak_day_of_year(self) -> int:
        return date.fromisoformat(f"2001-{self.peak}").timetuple().tm_yday


class NewProducts(ConfigModel):
    categories: tuple[Text, ...]
    rank: Int
    launch_days: tuple[Int, ...]
    ramp_days: Int

    @model_validator(mode="after")
    def _ranges(self) -> NewProducts:
        if self.rank < 1:
            raise problem("rank", "at least 1: the best seller is never new")
        _check_range("launch_days", self.launch_days, 1)
        if self.ramp_days < 1:
            raise problem("ramp_days", "must be at least 1")
        return self


class Behaviour(ConfigModel):
    """conf/simulator/behaviour.yaml"""

    segments: dict[str, Segment]
    others: Number = Field(description="affinity of a category a segment does not name")
    taste_share: Number = Field(description="share of a known customer's lines drawn by taste")
    drift: Drift
    complements: Complements
    repeats: Repeats
    promotions: Promotions
    seasonality: dict[str, Season] = {}
    new_products: NewProducts | None = None

    @model_validator(mode="after")
    def _shares(self) -> Behaviour:
        if not self.segments or sum(s.share for s in self.segments.values()) <= 0:
            raise problem("segments", "at least one segment with a positive share")
        if not 0 <= self.taste_share <= 1 or self.others < 0:
            raise problem("taste_share", "a share between 0 and 1 (others >= 0)")
        return self

    def check_names(self, file: str | Path, catalogue: list[dict[str, Any]]) -> None:
        """Every category and brand named here is one of the world's catalogue."""
        categories = {c["category"] for c in catalogue}
        brands = {b for c in catalogue for b in c["brands"]}
        named: list[tuple[str, str]] = []
        for name, s in self.segments.items():
            named += [(f"segments.{name}.categories", c) for c in s.categories]
            for b in s.brands:
                if b not in brands:
                    raise ConfigError(file, f"segments.{name}.brands.{b}", "no such brand")
        for i, p in enumerate(self.complements.pairs):
            named += [(f"complements.pairs.{i}", c) for c in (p.anchor, *p.complements)]
        named += [("repeats.categories", c) for c in self.repeats.categories]
        named += [("seasonality", c) for c in self.seasonality]
        if self.new_products:
            named += [("new_products.categories", c) for c in self.new_products.categories]
        for where, category in named:
            if category not in categories:
                known = ", ".join(sorted(categories))
                raise ConfigError(file, where, f"no category {category!r} (known: {known})")


def load_behaviour(file: str | Path, catalogue: list[dict[str, Any]]) -> Behaviour:
    behaviour = load(Behaviour, Path(file))
    behaviour.check_names(file, catalogue)
    return behaviour
