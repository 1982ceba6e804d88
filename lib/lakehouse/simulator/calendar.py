"""Days, volumes and customer counts: the driver-side plan of each simulated day.

Volumes vary by weekday and by a seeded day-to-day noise. The number of customers who
exist before a day is a running sum over the days before it, so any day can be planned
from seed and settings alone, without state kept between runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.simulator.literals import literal_array
from lakehouse.simulator.presets import Settings
from lakehouse.simulator.rng import Rng


class Calendar:
    def __init__(self, settings: Settings, rng: Rng):
        self.settings = settings
        self.rng = rng
        world = settings.world
        self.weekly = world["weekly"]
        self.baskets = world["basket_sizes"]
        self._customers_before = [settings.initial_customers]

    def date(self, day: int) -> date:
        return self.settings.start_date + timedelta(days=day)

    def iso(self, day: int) -> str:
        return self.date(day).isoformat()

    def compact(self, day: int) -> str:
        return self.date(day).strftime("%Y%m%d")

    def epoch(self, day: int) -> int:
        """Seconds since 1970 at 00:00 UTC of the day."""
        d = self.date(day)
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())

    def index(self, day: int | str | date) -> int:
        if isinstance(day, int):
            return day
        if isinstance(day, str):
            day = date.fromisoformat(day)
        return (day - self.settings.start_date).days

    def _factor(self, channel: str, day: int) -> float:
        noise = self.rng.python("volume", channel, day).uniform(0.9, 1.1)
        return self.weekly[channel][self.date(day).weekday()] * noise

    @cached_property
    def mean_basket(self) -> dict[str, float]:
        out = {}
        for channel, weights in self.baskets.items():
            out[channel] = sum((i + 1) * w for i, w in enumerate(weights)) / sum(weights)
        return out

    def orders(self, day: int) -> int:
        """Orders placed on a day (both channels of the order-management system)."""
        s = self.settings
        return max(
            1, round(s.positions_per_day / self.mean_basket["web"] * self._factor("web", day))
        )

    def new_customers(self, day: int) -> int:
        return round(self.orders(day) * self.settings.new_customer_share)

    def customers_before(self, day: int) -> int:
        """Customers that exist when the day starts: the initial base plus earlier sign-ups."""
        # A running sum, kept: the stories of a day look up many days' counts.
        known = self._customers_before
        while len(known) <= day:
            d = len(known) - 1
            known.append(known[-1] + self.new_customers(d))
        return known[max(day, 0)]

    def receipts(self, day: int) -> int:
        s = self.settings
        lines = s.positions_per_day * s.pos_lines_per_position * self._factor("store", day)
        return max(1, round(lines / self.mean_basket["store"]))

    def web_sessions(self, day: int) -> int:
        s = self.settings
        events = s.positions_per_day * s.web_events_per_position * self._factor("web", day)
        return max(1, round(events / 6.0))

    def partitions(self, rows: int) -> int:
        return max(1, -(-rows // self.settings.rows_per_partition))


def per_day(first: int, last: int, value: Callable[[int], object], day: Column) -> Column:
    """A per-day driver-side value (e.g. customers so far) looked up by a day column."""
    days = list(range(max(first, 0), last + 1))
    values = literal_array(value(d) for d in days)
    return F.element_at(values, day - days[0] + 1)
