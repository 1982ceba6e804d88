"""The retailer's world as Spark expressions: places, shops, products and people.

Every attribute is a pure function of an id (and, for prices, the day), so any system can
refer to a product, shop or customer without a join, and every day sees the same world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.simulator.assortment import Assortment
from lakehouse.simulator.presets import Settings
from lakehouse.simulator.rng import Rng, between, element, index_of, weighted_index
from lakehouse.simulator.shoppers import Shoppers

MODEL_SUFFIXES = ["", " Pro", " Lite", " Max", " Plus", " Mini", " X"]


@dataclass(frozen=True)
class Shop:
    shop_id: str
    shop_name: str
    shop_type: str
    city: str
    opened_on: str | None
    opens_on_day: int | None
    weight: float
    tills: int
    renamed: dict[str, Any] | None

    def open_on(self, day: int) -> bool:
        return self.opens_on_day is None or day >= self.opens_on_day


class World:
    def __init__(self, settings: Settings, rng: Rng):
        self.s = settings
        self.rng = rng
        raw = settings.world
        self.cities: list[dict[str, Any]] = raw["cities"]
        self.countries: dict[str, dict[str, Any]] = raw["countries"]
        self.catalogue: list[dict[str, Any]] = raw["catalogue"]
        self.raw = raw
        self.shops = [
            Shop(
                shop_id=s["shop_id"],
                shop_name=s["shop_name"],
                shop_type=s["shop_type"],
                city=s["city"],
                opened_on=str(s["opened_on"]) if s.get("opened_on") else None,
                opens_on_day=s.get("opens_on_day"),
                weight=float(s.get("weight", 1)),
                tills=int(s.get("tills", 1)),
                renamed=s.get("renamed"),
            )
            for s in raw["shops"]
        ]
        self.assortment = Assortment(
            settings.products,
            self.catalogue,
            settings.behaviour,
            rng,
            settings.popularity_skew,
            settings.start_date.weekday(),
        )
        self.shoppers = Shoppers(settings.behaviour, rng, self.assortment, settings.start_date)

    # places ----------------------------------------------------------------------------

    def city_index(self, u: Column) -> Column:
        return weighted_index(u, [c["weight"] for c in self.cities])

    def city(self, index: Column, attr: str) -> Column:
        return element([c[attr] for c in self.cities], index)

    def country(self, country: Column, attr: str) -> Column:
        mapping = F.create_map(
            *[x for code, v in self.countries.items() for x in (F.lit(code), F.lit(v[attr]))]
        )
        return F.element_at(mapping, country)

    @cached_property
    def spellings(self) -> Column:
        """Canonical city name -> the other spellings the source systems use."""
        pairs = []
        for c in self.cities:
            pairs += [F.lit(c["name"]), F.array(*[F.lit(v) for v in c["variants"]])]
        return F.create_map(*pairs)

    def respell(self, city: Column, u: Column) -> Column:
        variants = F.element_at(self.spellings, city)
        return F.coalesce(
            F.element_at(variants, (F.floor(u * F.size(variants)) + 1).cast("int")), city
        )

    def city_tz(self, city_name: str) -> str:
        return next(c["tz"] for c in self.cities if c["name"] == city_name)

    # shops -----------------------------------------------------------------------------

    def shops_of(self, shop_type: str, day: int) -> list[Shop]:
        return [s for s in self.shops if s.shop_type == shop_type and s.open_on(day)]

    # products --------------------------------------------------------------------------

    def product_id(self, pidx: Column) -> Column:
        return F.concat(F.lit("P"), F.lpad(pidx.cast("string"), 7, "0"))

    def unknown_product_id(self, u: Column) -> Column:
        """An id shaped like a product id that the catalogue never contains."""
        return F.concat(F.lit("P9"), F.lpad(between(u, 0, 999999).cast("string"), 6, "0"))

    def popular_product(self, u: Column) -> Column:
        """A product index by overall popularity (rank drawn heavy-tailed, scattered over ids)."""
        return self.assortment.popular(u)

    def category_index(self, pidx: Column) -> Column:
        return self.assortment.category_of(pidx)

    def category(self, cat: Column, attr: str) -> Column:
        return element([c[attr] for c in self.catalogue], cat)

    def _nested_pick(self, cat: Column, attr: str, u: Column) -> Column:
        options = F.element_at(
            F.array(*[F.array(*[F.lit(v) for v in c[attr]]) for c in self.catalogue]), cat + 1
        )
        return F.element_at(options, (F.floor(u * F.size(options)) + 1).cast("int"))

    def brand(self, pidx: Column, cat: Column) -> Column:
        brands = F.element_at(
            F.array(*[F.array(*[F.lit(v) for v in c["brands"]]) for c in self.catalogue]), cat + 1
        )
        return F.element_at(brands, self.assortment.brand_index(pidx, cat) + 1)

    def product_name(self, pidx: Column, cat: Column, brand: Column) -> Column:
        noun = self._nested_pick(cat, "nouns", self.rng.u("noun", pidx))
        series = F.concat(
            F.upper(F.substring(brand, 1, 1)),
            F.lpad((F.pmod(pidx * 37, F.lit(900)) + 100).cast("string"), 3, "0"),
            element(MODEL_SUFFIXES, index_of(self.rng.u("suffix", pidx), len(MODEL_SUFFIXES))),
        )
        return F.concat_ws(" ", F.initcap(brand), noun, series)

    def supplier(self, pidx: Column) -> Column:
        suppliers = self.raw["suppliers"]
        return element(suppliers, index_of(self.rng.u("supplier", pidx), len(suppliers)))

    def price_version(self, pidx: Column, day: Column) -> Column:
        low, high = self.s.price_period_days[0], self.s.price_period_days[-1]
        period = between(self.rng.u("price_period", pidx), low, high)
        phase = between(self.rng.u("price_phase", pidx), 0, high)
        return F.floor((day + phase) / period).cast("long")

    def list_price(self, pidx: Column, cat: Column, day: Column) -> Column:
        """EUR price ending in .99, log-uniform in the category's range, revised now and then."""
        low = element([math.log(c["price"][0]) for c in self.catalogue], cat)
        high = element([math.log(c["price"][1]) for c in self.catalogue], cat)
        base = F.exp(low + self.rng.u("price_base", pidx) * (high - low))
        factor = 0.85 + 0.3 * self.rng.u("price_move", pidx, self.price_version(pidx, day))
        return (F.ceil(base * factor) - 0.01).cast("decimal(12,2)")

    # people ----------------------------------------------------------------------------

    def customer_id(self, cidx: Column) -> Column:
        return F.concat(F.lit("C"), F.lpad(cidx.cast("string"), 9, "0"))

    def customer_city(self, cidx: Column, version: Column | int = 0) -> Column:
        return self.city_index(self.rng.u("home_city", cidx, version))

    def customer_tz(self, cidx: Column) -> Column:
        """Time zone of the customer's first home (moves stay in the same country mostly)."""
        return self.city(self.customer_city(cidx), "tz")

    def person(self, cidx: Column) -> dict[str, Column]:
        first_names, last_names = self.raw["first_names"], self.raw["last_names"]
        first = element(first_names, index_of(self.rng.u("first", cidx), len(first_names)))
        last = element(last_names, index_of(self.rng.u("last", cidx), len(last_names)))
        return {"first_name": first, "last_name": last}

    def email(self, first: Column, last: Column, cidx: Column, salt: str = "") -> Column:
        domains = self.raw["email_domains"]
        local = F.concat(first, F.lit("."), last, (F.pmod(cidx, F.lit(97))).cast("string"))
        local = F.regexp_replace(
            F.translate(F.lower(local), "äöüßéëøçåışğ", "aouseeocaisg"), "[^a-z0-9.]", ""
        )
        domain = element(domains, index_of(self.rng.u("domain" + salt, cidx), len(domains)))
        return F.concat(local, F.lit("@"), domain)

    def phone(self, country: Column, cidx: Column) -> Column:
        digits = between(self.rng.u("phone", cidx), 10_000_000, 99_999_999).cast("string")
        mobile = between(self.rng.u("mobile", cidx), 150, 179).cast("string")
        return F.concat_ws(" ", self.country(country, "phone"), mobile, digits)

    def address(self, cidx: Column, version: Column | int, ci: Column) -> dict[str, Column]:
        """Street, postcode, city, country and time zone; ``ci`` is the city index."""
        country = self.city(ci, "country")
        streets = self.raw["streets"]
        street = F.concat_ws(
            " ",
            element(streets, index_of(self.rng.u("street", cidx, version), len(streets))),
            between(self.rng.u("house", cidx, version), 1, 180).cast("string"),
        )
        width = self.country(country, "postcode_digits")
        prefix = self.city(ci, "postcode")
        rest_len = F.greatest(width - F.length(prefix), F.lit(1))
        digits = between(self.rng.u("postcode", cidx, version), 0, 99999).cast("string")
        rest = F.lpad(digits, 5, "0").substr(F.lit(1), rest_len)
        return {
            "street": street,
            "postcode": F.concat(prefix, rest),
            "city": self.city(ci, "name"),
            "country": country,
            "_tz": self.city(ci, "tz"),
        }
