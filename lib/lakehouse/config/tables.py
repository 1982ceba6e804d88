"""The tables: one file per table, ``conf/tables/<layer>/<name>.yaml``, read by its layer's
model. The models live in ``bronze_spec``, ``silver_spec``, ``gold_spec`` and
``table_blocks``; they are named here too, where the layers look for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lakehouse.config.bronze_spec import BronzeSpec, SourceSpec
from lakehouse.config.gold_spec import ChangeQuery, GoldSpec, MeasuresSpec, Scd2Spec, parse_interval
from lakehouse.config.silver_spec import PiiPolicy, SilverSpec
from lakehouse.config.table_blocks import (
    SAFE_RETENTION_HOURS,
    ColumnSpec,
    ErasureSpec,
    MaintenanceSpec,
)

__all__ = [
    "LAYERS",
    "SAFE_RETENTION_HOURS",
    "SPEC_BY_LAYER",
    "BronzeSpec",
    "ChangeQuery",
    "ColumnSpec",
    "ErasureSpec",
    "GoldSpec",
    "MaintenanceSpec",
    "MeasuresSpec",
    "PiiPolicy",
    "Scd2Spec",
    "SilverSpec",
    "SourceSpec",
    "Table",
    "is_table_ref",
    "parse_interval",
]

LAYERS = ("bronze", "silver", "gold")
SPEC_BY_LAYER = {"bronze": BronzeSpec, "silver": SilverSpec, "gold": GoldSpec}
_TABLE_REF = re.compile(r"^(bronze|silver|gold)\.[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Table:
    """One table of the lakehouse, identified as ``layer.name`` (its file's folder and stem)."""

    layer: str
    name: str
    file: Path
    spec: BronzeSpec | SilverSpec | GoldSpec

    @property
    def ref(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def upstream(self) -> tuple[str, ...]:
        return self.spec.upstream


def is_table_ref(value: str) -> bool:
    return bool(_TABLE_REF.match(value))
