"""The rules of ``conf/harmonisation.yaml``: date and time formats, and the spellings of
countries and cities that mean the same place."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from lakehouse.config.reading import load
from lakehouse.config.yaml_model import ConfigModel, Names, Text, problem


class DatetimeRules(ConfigModel):
    formats: Names = Field((), description="Spark datetime patterns, tried in order after ISO")
    default_timezone: Text = Field("UTC", description="the zone of a value without one")


class HarmonisationSpec(ConfigModel):
    """conf/harmonisation.yaml"""

    datetime: DatetimeRules = DatetimeRules()
    countries: dict[str, Names] = Field({}, description="ISO alpha-2 code: its other spellings")
    cities: dict[str, Names] = Field({}, description="canonical name: its other spellings")

    @model_validator(mode="after")
    def _one_place_per_spelling(self) -> HarmonisationSpec:
        for block in ("countries", "cities"):
            seen: dict[str, str] = {}
            for canonical, variants in getattr(self, block).items():
                for variant in (canonical, *variants):
                    norm = normalise(variant)
                    if seen.setdefault(norm, canonical) != canonical:
                        raise problem(
                            f"{block}.{canonical}",
                            f"{variant!r} is also a spelling of {seen[norm]!r}",
                        )
        return self


def load_harmonisation(path: Path) -> HarmonisationSpec:
    return load(HarmonisationSpec, path)


def normalise(value: str) -> str:
    return " ".join(value.split()).lower()
