"""Harmonisers: Spark expressions that bring differently written values to one form.

Each is built from ``conf/harmonisation.yaml`` (formats, mappings) and applied to a silver
column that names it (``harmonise: timestamp``), before the column's type cast.

Places (``city``, ``country``) are matched by their *folded* form: spaces collapsed and
trimmed, lower case, diacritics and ligatures to plain letters ("  MÜNCHEN" -> "munchen").
A listed place gets its configured spelling; any other gets one made from the folded form
alone (each word capitalised: "BERLIN", "berlin " and "Berlin" -> "Berlin"). The canonical
spelling is a pure function of the value, so every batch, run and order of arrival picks the
same one; a place listed in the configuration keeps its accents ("Genève"), one not listed
loses them ("GENEVE", "Genève" -> "Geneve").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.config.harmonisation import HarmonisationSpec

# Letters that are no base letter plus marks in Unicode, and what they fold to.
_LIGATURES = {
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "þ": "th",
    "\u0131": "i",
}


def _accent_table() -> tuple[str, str]:
    """Lower-case Latin letters with diacritics (Latin-1 to Latin Extended-B) and their base
    letters, from Unicode's own decompositions."""
    accented, plain = [], []
    for code in range(0xC0, 0x250):
        letter = chr(code)
        base = unicodedata.normalize("NFD", letter)[0]
        if letter == letter.lower() and base != letter and base.isascii() and base.isalpha():
            accented.append(letter)
            plain.append(base)
    return "".join(accented), "".join(plain)


_ACCENTED, _PLAIN = _accent_table()
_TO_PLAIN = str.maketrans(_ACCENTED, _PLAIN)


def fold(text: str) -> str:
    """The folded form of a place name, in Python (equal to ``fold_column`` in Spark)."""
    folded = " ".join(text.split()).lower().translate(_TO_PLAIN)
    for letter, plain in _LIGATURES.items():
        folded = folded.replace(letter, plain)
    return folded


def fold_column(value: Column) -> Column:
    """The folded form of a place name, as a Spark expression (see ``fold``)."""
    collapsed = F.trim(F.regexp_replace(value.cast("string"), r"(?U)\s+", " "))
    folded = F.translate(F.lower(collapsed), _ACCENTED, _PLAIN)
    for letter, plain in _LIGATURES.items():
        folded = F.replace(folded, F.lit(letter), F.lit(plain))
    return folded


def _capitalised(folded: Column) -> Column:
    """Each word, and each part of a hyphenated word, capitalised: "baden-baden" -> "Baden-Baden"."""
    return F.array_join(F.transform(F.split(F.initcap(folded), "-"), F.initcap), "-")


def _lookup(block: str, mapping: dict[str, tuple[str, ...]]) -> Column:
    """Folded spelling -> canonical spelling, for every listed spelling."""
    pairs: dict[str, str] = {}
    for canonical, variants in mapping.items():
        for variant in (canonical, *variants):
            other = pairs.setdefault(fold(variant), canonical)
            if other != canonical:
                raise ValueError(
                    f"harmonisation.yaml: {block}: {variant!r} (of {canonical!r}) and a spelling "
                    f"of {other!r} fold to the same {fold(variant)!r}; list it under one of them"
                )
    # Typed, so that an empty block is an empty map of strings, not a map of nothing.
    return F.create_map(*(F.lit(x) for kv in sorted(pairs.items()) for x in kv)).cast(
        "map<string,string>"
    )


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

    @cached_property
    def _countries(self) -> Column:
        return _lookup("countries", self.spec.countries)

    @cached_property
    def _cities(self) -> Column:
        return _lookup("cities", self.spec.cities)

    def country(self, value: Column) -> Column:
        """The listed ISO code, else the value's folded form in capitals ("de " -> "DE")."""
        folded = fold_column(value)
        return F.coalesce(self._countries[folded], F.upper(folded))

    def city(self, value: Column) -> Column:
        """The listed spelling, else the folded form with each word capitalised."""
        folded = fold_column(value)
        return F.coalesce(self._cities[folded], _capitalised(folded))

    def by_name(self) -> dict[str, Callable[[Column], Column]]:
        return {
            "timestamp": self.timestamp,
            "date": self.date,
            "country": self.country,
            "city": self.city,
        }


# Harmonisers that give a place one spelling: silver reports the spellings it meets.
PLACES = ("city", "country")
