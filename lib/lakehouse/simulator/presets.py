"""Simulator settings: a preset from conf/simulator/presets.yaml, defect rates, the world."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from lakehouse.config.loader import ConfigError, build, read_yaml
from lakehouse.simulator.behaviour import load_behaviour

# The project folder when running from a checkout; the working folder when the library is
# shipped as a zip (spark-submit --py-files) and the job runs from the project folder.
CONF_DIR = next(
    (
        p / "conf" / "simulator"
        for p in (Path(__file__).resolve().parents[3], Path.cwd())
        if (p / "conf" / "simulator").is_dir()
    ),
    Path.cwd() / "conf" / "simulator",
)

DEFECT_KINDS = (
    "exact_duplicate",
    "resent_newer",
    "orphan_reference",
    "late",
    "malformed",
    "null_required",
    "absurd_value",
    "unknown_reference",
    "mixed_date_format",
    "place_variant",
)


@dataclass(frozen=True)
class SchemaDrift:
    source: str
    column: str
    type: str
    from_day: int


@dataclass(frozen=True)
class Defects:
    sources: dict[str, dict[str, float]]
    schema_drift: tuple[SchemaDrift, ...] = ()

    def validate(self, file: str | Path, key: str) -> None:
        for source, rates in self.sources.items():
            for kind, rate in rates.items():
                where = f"sources.{source}.{kind}"
                if kind not in DEFECT_KINDS:
                    raise ConfigError(file, where, f"unknown defect (known: {DEFECT_KINDS})")
                if not 0 <= rate < 1:
                    raise ConfigError(file, where, f"a share between 0 and 1, got {rate}")
            if sum(r for k, r in rates.items() if k != "late") >= 1:
                raise ConfigError(file, f"sources.{source}", "defect shares add up to 1 or more")

    def rates(self, source: str) -> dict[str, float]:
        return {k: r for k, r in self.sources.get(source, {}).items() if r > 0}


@dataclass(frozen=True)
class Settings:
    start: str
    days: int
    positions_per_day: int
    products: int
    initial_customers: int
    new_customer_share: float
    store_order_share: float
    customer_move_share: float
    popularity_skew: float
    price_period_days: tuple[int, ...]
    pos_lines_per_position: float
    web_events_per_position: float
    late_max_days: int
    manifest_max_keys: int
    spark_write_from_positions: int
    rows_per_partition: int
    preset: str = "custom"
    defects: Defects = field(default_factory=lambda: Defects(sources={}))
    world: Any = None
    behaviour: Any = None  # lakehouse.simulator.behaviour.Behaviour

    def validate(self, file: str | Path, key: str) -> None:
        try:
            date.fromisoformat(self.start)
        except ValueError:
            raise ConfigError(file, f"{key}.start", f"not an ISO date: {self.start!r}") from None
        for name in ("days", "positions_per_day", "products", "late_max_days"):
            if getattr(self, name) < (0 if name == "days" else 1):
                raise ConfigError(file, f"{key}.{name}", "must be positive")

    @property
    def start_date(self) -> date:
        return date.fromisoformat(self.start)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some settings replaced; None values are ignored (handy for CLI flags)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "start" in given:
            given["start"] = str(given["start"])
        unknown = set(given) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown simulator settings: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **given)


def load_preset(
    name: str = "demo", conf_dir: str | Path | None = None, **overrides: Any
) -> Settings:
    """Read a preset (tiny, demo, large) with the defect rates, the world it draws from and
    how its shoppers behave."""

    folder = Path(conf_dir) if conf_dir else CONF_DIR
    presets_file = folder / "presets.yaml"
    presets = read_yaml(presets_file)
    known = presets.get("presets") or {}
    if name not in known:
        raise ConfigError(presets_file, "presets", f"no preset {name!r} (known: {sorted(known)})")
    merged = {**(presets.get("defaults") or {}), **(known[name] or {}), "preset": name}
    settings = build(Settings, merged, presets_file, f"presets.{name}")
    defects = build(Defects, read_yaml(folder / "defects.yaml"), folder / "defects.yaml")
    world = read_yaml(folder / "world.yaml")
    behaviour = load_behaviour(folder / "behaviour.yaml", world["catalogue"])
    return settings.with_overrides(defects=defects, world=world, behaviour=behaviour, **overrides)
