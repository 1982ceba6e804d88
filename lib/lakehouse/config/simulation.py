"""The simulator's YAML: how much its systems export (``conf/simulator/presets.yaml``) and
how dirty (``conf/simulator/defects.yaml``). ``lakehouse.simulator.presets`` reads them."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, create_model, model_validator

from lakehouse.config.yaml_model import ConfigModel, Int, Number, Text, problem

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


class SchemaDrift(ConfigModel):
    source: Text
    column: Text
    type: Text
    from_day: Int = Field(description="the day index from which the exports carry the column")


class Defects(ConfigModel):
    """conf/simulator/defects.yaml"""

    sources: dict[str, dict[str, Number]] = Field(
        description="source: {defect kind: share of its records}"
    )
    schema_drift: tuple[SchemaDrift, ...] = ()

    @model_validator(mode="after")
    def _known_kinds_and_shares(self) -> Defects:
        for source, rates in self.sources.items():
            for kind, rate in rates.items():
                where = f"sources.{source}.{kind}"
                if kind not in DEFECT_KINDS:
                    raise problem(where, f"unknown defect (known: {DEFECT_KINDS})")
                if not 0 <= rate < 1:
                    raise problem(where, f"a share between 0 and 1, got {rate}")
            if sum(r for k, r in rates.items() if k != "late") >= 1:
                raise problem(f"sources.{source}", "defect shares add up to 1 or more")
        return self

    def rates(self, source: str) -> dict[str, float]:
        return {k: r for k, r in self.sources.get(source, {}).items() if r > 0}


class Volumes(ConfigModel):
    """How much the simulated systems export (conf/simulator/presets.yaml explains each)."""

    start: Text = Field(description="ISO date of day index 0")
    days: Int
    positions_per_day: Int = Field(description="the scale knob: order positions per day")
    products: Int
    initial_customers: Int
    new_customer_share: Number
    store_order_share: Number
    customer_move_share: Number
    popularity_skew: Number
    price_period_days: tuple[Int, ...]
    pos_lines_per_position: Number
    web_events_per_position: Number
    late_max_days: Int
    manifest_max_keys: Int
    spark_write_from_positions: Int
    rows_per_partition: Int


# A preset lists only what differs from the defaults.
Preset = create_model(
    "Preset",
    __base__=ConfigModel,
    **{
        name: (field.rebuild_annotation() | None, Field(None, description=field.description))
        for name, field in Volumes.model_fields.items()
    },
)


class PresetsFile(ConfigModel):
    """conf/simulator/presets.yaml"""

    defaults: Preset
    presets: dict[str, Preset]


class Settings(Volumes):
    preset: Text = "custom"
    defects: Defects = Defects(sources={})
    world: Any = None
    behaviour: Any = None  # lakehouse.config.shopper_behaviour.Behaviour

    @model_validator(mode="after")
    def _dates_and_counts(self) -> Settings:
        try:
            date.fromisoformat(self.start)
        except ValueError:
            raise problem("start", f"not an ISO date: {self.start!r}") from None
        for name in ("days", "positions_per_day", "products", "late_max_days"):
            if getattr(self, name) < (0 if name == "days" else 1):
                raise problem(name, "must be positive")
        return self

    @property
    def start_date(self) -> date:
        return date.fromisoformat(self.start)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some settings replaced; None values are ignored (handy for CLI flags)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "start" in given:
            given["start"] = str(given["start"])
        unknown = set(given) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"unknown simulator settings: {', '.join(sorted(unknown))}")
        return self.model_copy(update=given)
