"""What a simulated source system is: the rows it exports per day and where defects can go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.simulator.calendar import Calendar
from lakehouse.simulator.presets import Settings
from lakehouse.simulator.rng import Rng
from lakehouse.simulator.world import World

if TYPE_CHECKING:
    from lakehouse.simulator.episodes import Episodes


@dataclass(frozen=True)
class Context:
    spark: SparkSession
    settings: Settings
    rng: Rng
    calendar: Calendar
    world: World
    episodes: Episodes


@dataclass(frozen=True)
class SourceModel:
    """A source system's export.

    ``rows(first, last)`` returns the clean records whose natural export day lies in
    [first, last], with the exported columns (in model form, see ``render``) and
    ``_rid`` (unique per record version, what defect draws hash), ``_day`` (the natural
    export day) and ``_tz`` (time zone for local timestamps, may be null). ``key`` names the
    columns the manifest lists records by. The other fields say which columns each defect
    may touch; a defect with no target is not possible for the source.
    """

    name: str
    rows: Callable[[int, int], DataFrame]
    kinds: dict[str, str]
    key: tuple[str, ...]
    required: tuple[str, ...] = ()
    absurd: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    unknown: tuple[str, Callable[[Column], Column]] | None = None
    orphan: tuple[str, Callable[[Column], Column]] | None = None
    resend: Callable[[], dict[str, Column]] | None = None
    updated_at: str | None = "updated_at"
    late_unit: str = "_rid"
    # Day-0 full loads only get harmless defects, so every real record is known downstream.
    clean_full_load: bool = False
    extras: dict[str, str] = field(default_factory=dict)

    def supports(self, kind: str, fmt: str) -> bool:
        return {
            "exact_duplicate": True,
            "late": True,
            "resent_newer": self.resend is not None and self.updated_at is not None,
            "orphan_reference": self.orphan is not None,
            "malformed": fmt in ("csv", "json"),
            "null_required": bool(self.required),
            "absurd_value": bool(self.absurd),
            "unknown_reference": self.unknown is not None,
            "mixed_date_format": bool(self.dates),
            "place_variant": bool(self.places),
        }[kind]


def day_rows(ctx: Context, first: int, last: int, count: Callable[[int], int]) -> DataFrame:
    """``count(d)`` rows for each day d in [first, last] as one range: columns _day, idx.

    One range instead of a union per day keeps plans small and the row order fixed (by
    day, then idx), which is what makes the files byte-identical between runs.
    """
    days = list(range(max(first, 0), last + 1))
    counts = [max(0, count(d)) for d in days]
    total = sum(counts)
    df = ctx.spark.range(0, total, 1, ctx.calendar.partitions(total))
    if not days:
        return df.select(F.lit(0).alias("_day"), F.col("id").alias("idx")).limit(0)
    starts, running = [], 0
    for c in counts:
        starts.append(running)
        running += c
    day = F.lit(days[0]) + last_at_most(starts, F.col("id"))
    start_of_day = F.element_at(F.array(*[F.lit(s) for s in starts]), day - days[0] + 1)
    return df.select(day.cast("int").alias("_day"), (F.col("id") - start_of_day).alias("idx"))


def last_at_most(ascending: list[int], value: Column) -> Column:
    """The 0-based index of the last of ``ascending`` (sorted) that is <= ``value``; -1 when
    none is. One flat expression: a CASE chain per day overflows the stack past a year."""
    bounds = F.array(*[F.lit(b) for b in ascending])
    return F.size(F.filter(bounds, lambda b: b <= value)) - 1
