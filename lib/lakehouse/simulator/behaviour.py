"""How shoppers behave (conf/simulator/behaviour.yaml), validated against the world's catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from lakehouse.config.loader import ConfigError, build, read_yaml


def _range(file: str | Path, key: str, pair: tuple, low: float, kind: str = "days") -> None:
    if len(pair) != 2 or pair[0] > pair[1] or pair[0] < low:
        raise ConfigError(file, key, f"expected [min, max] {kind} with {low} <= min <= max")


@dataclass(frozen=True)
class Segment:
    share: float
    categories: dict[str, float] = field(default_factory=dict)
    brands: dict[str, float] = field(default_factory=dict)
    brand_loyalty: float = 0.0
    price_sensitivity: float = 0.5

    def validate(self, file: str | Path, key: str) -> None:
        for name in ("brand_loyalty", "price_sensitivity"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(file, f"{key}.{name}", "a share between 0 and 1")
        weights = (self.share, *self.categories.values(), *self.brands.values())
        if any(w < 0 for w in weights):
            raise ConfigError(file, key, "shares and weights cannot be negative")


@dataclass(frozen=True)
class Drift:
    max_share: float
    start_days: tuple[int, ...]
    over_days: tuple[int, ...]

    def validate(self, file: str | Path, key: str) -> None:
        if not 0 <= self.max_share <= 1:
            raise ConfigError(file, f"{key}.max_share", "a share between 0 and 1")
        _range(file, f"{key}.start_days", self.start_days, -100_000)
        _range(file, f"{key}.over_days", self.over_days, 1)


@dataclass(frozen=True)
class Pair:
    anchor: str
    complements: tuple[str, ...]
    same_brand: bool = False


@dataclass(frozen=True)
class Complements:
    anchor_share: float
    follow_up_share: float
    same_basket: float
    follow_up_days: tuple[int, ...]
    pairs: tuple[Pair, ...]

    def validate(self, file: str | Path, key: str) -> None:
        for name in ("anchor_share", "follow_up_share", "same_basket"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(file, f"{key}.{name}", "a share between 0 and 1")
        _range(file, f"{key}.follow_up_days", self.follow_up_days, 1)
        if not self.pairs:
            raise ConfigError(file, f"{key}.pairs", "name at least one anchor and its complements")

    @property
    def max_lag(self) -> int:
        return self.follow_up_days[-1]


@dataclass(frozen=True)
class Repeats:
    order_share: float
    every_nth_customer: int
    intervals_days: tuple[int, ...]
    quantity: tuple[int, ...]
    categories: dict[str, float]

    def validate(self, file: str | Path, key: str) -> None:
        if not 0 <= self.order_share < 1:
            raise ConfigError(file, f"{key}.order_share", "a share between 0 and 1")
        if self.every_nth_customer < 1:
            raise ConfigError(file, f"{key}.every_nth_customer", "must be at least 1")
        if not self.intervals_days or min(self.intervals_days) < 1:
            raise ConfigError(file, f"{key}.intervals_days", "a list of days, each at least 1")
        _range(file, f"{key}.quantity", self.quantity, 1, "units")
        if not self.categories or min(self.categories.values()) <= 0:
            raise ConfigError(file, f"{key}.categories", "categories with positive weights")


@dataclass(frozen=True)
class Promotions:
    product_share: float
    discount_pct: tuple[int, ...]
    lift: float
    anonymous_sensitivity: float
    extra_unit: float

    def validate(self, file: str | Path, key: str) -> None:
        for name in ("product_share", "anonymous_sensitivity", "extra_unit"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(file, f"{key}.{name}", "a share between 0 and 1")
        _range(file, f"{key}.discount_pct", self.discount_pct, 0, "percent")
        if self.discount_pct[1] >= 100 or self.lift < 0:
            raise ConfigError(file, key, "discounts below 100 % and a lift of at least 0")


@dataclass(frozen=True)
class Season:
    weekly: tuple[float, ...] = (1.0,) * 7
    amplitude: float = 0.0
    peak: str = "01-01"

    def validate(self, file: str | Path, key: str) -> None:
        if len(self.weekly) != 7 or min(self.weekly) < 0:
            raise ConfigError(file, f"{key}.weekly", "seven factors, Monday first, none negative")
        if not 0 <= self.amplitude < 1:
            raise ConfigError(file, f"{key}.amplitude", "between 0 and 1 (a share of the mean)")
        try:
            date.fromisoformat(f"2001-{self.peak}")
        except ValueError:
            raise ConfigError(file, f"{key}.peak", f"a day as MM-DD, got {self.peak!r}") from None

    @property
    def peak_day_of_year(self) -> int:
        return date.fromisoformat(f"2001-{self.peak}").timetuple().tm_yday


@dataclass(frozen=True)
class NewProducts:
    categories: tuple[str, ...]
    rank: int
    launch_days: tuple[int, ...]
    ramp_days: int

    def validate(self, file: str | Path, key: str) -> None:
        if self.rank < 1:
            raise ConfigError(file, f"{key}.rank", "at least 1: the best seller is never new")
        _range(file, f"{key}.launch_days", self.launch_days, 1)
        if self.ramp_days < 1:
            raise ConfigError(file, f"{key}.ramp_days", "must be at least 1")


@dataclass(frozen=True)
class Behaviour:
    segments: dict[str, Segment]
    others: float
    taste_share: float
    drift: Drift
    complements: Complements
    repeats: Repeats
    promotions: Promotions
    seasonality: dict[str, Season] = field(default_factory=dict)
    new_products: NewProducts | None = None

    def validate(self, file: str | Path, key: str) -> None:
        if not self.segments or sum(s.share for s in self.segments.values()) <= 0:
            raise ConfigError(file, "segments", "at least one segment with a positive share")
        if not 0 <= self.taste_share <= 1 or self.others < 0:
            raise ConfigError(file, "taste_share", "a share between 0 and 1 (others >= 0)")

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
    behaviour = build(Behaviour, read_yaml(Path(file)), file)
    behaviour.check_names(file, catalogue)
    return behaviour
