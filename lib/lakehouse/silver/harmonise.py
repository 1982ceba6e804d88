"""Harmonisers: Spark expressions that bring differently written values to one form.

Each is built from ``conf/harmonisation.yaml`` (formats, mappings) and applied to a silver
column that names it (``harmonise: timestamp``), before the column's type cast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.config.harmonisation import HarmonisationSpec, normalise


def _normalised(column: Column) -> Column:
    return F.lower(F.regexp_replace(F.trim(column), r"\s+", " "))


def _lookup(mapping: dict[str, tuple[str, ...]]) -> Column:
    pairs = {normalise(v): c for c, variants in mapping.items() for v in (c, *variants)}
    return F.create_map(*(F.lit(x) for kv in sorted(pairs.items()) for x in kv))


@dataclass(frozen=True)
class Harmonisers:
    spec: HarmonisationSpec

    def timestamp(self, value: Column) -> Column:
        """ISO-8601 with or without zone, then the configured patterns; naive values are read
        in the default time zone. Unreadable values become null (the raw value stays in bronze)."""
        text = F.trim(value.cast("string"))
        zone = self.spec.datetime.default_timezone
        iso = F.try_to_timestamp(text)
        if zone != "UTC":
            # Spark reads a zoneless ISO value in the session zone (UTC here); re-read it in
            # the source's zone unless it carried its own offset.
            has_zone = text.rlike(r"(Z|[+-]\d{2}:?\d{2})$")
            iso = F.when(has_zone, iso).otherwise(F.to_utc_timestamp(iso, zone))
        patterned = [F.try_to_timestamp(text, F.lit(fmt)) for fmt in self.spec.datetime.formats]
        if zone != "UTC":
            patterned = [F.to_utc_timestamp(p, zone) for p in patterned]
        return F.coalesce(iso, *patterned)

    def date(self, value: Column) -> Column:
        return F.to_date(self.timestamp(value))

    def country(self, value: Column) -> Column:
        return F.coalesce(_lookup(self.spec.countries)[_normalised(value)], F.upper(F.trim(value)))

    def city(self, value: Column) -> Column:
        return F.coalesce(
            _lookup(self.spec.cities)[_normalised(value)],
            F.regexp_replace(F.trim(value), r"\s+", " "),
        )

    def by_name(self) -> dict[str, Callable[[Column], Column]]:
        return {
            "timestamp": self.timestamp,
            "date": self.date,
            "country": self.country,
            "city": self.city,
        }
