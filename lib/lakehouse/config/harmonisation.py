"""The rules of ``conf/harmonisation.yaml``: date and time formats, and the spellings of
countries and cities that mean the same place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.config.loader import ConfigError, build, read_yaml


@dataclass(frozen=True)
class DatetimeRules:
    formats: tuple[str, ...] = ()
    default_timezone: str = "UTC"


@dataclass(frozen=True)
class HarmonisationSpec:
    datetime: DatetimeRules = field(default_factory=DatetimeRules)
    countries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cities: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def validate(self, file: str | Path, key: str) -> None:
        for block in ("countries", "cities"):
            seen: dict[str, str] = {}
            for canonical, variants in getattr(self, block).items():
                for variant in (canonical, *variants):
                    norm = normalise(variant)
                    if seen.setdefault(norm, canonical) != canonical:
                        raise ConfigError(
                            file,
                            f"{block}.{canonical}",
                            f"{variant!r} is also a spelling of {seen[norm]!r}",
                        )


def load_harmonisation(path: Path) -> HarmonisationSpec:
    return build(HarmonisationSpec, read_yaml(path), path)


def normalise(value: str) -> str:
    return " ".join(value.split()).lower()
