"""The typed shape of the YAML configuration: one dataclass per kind of block."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lakehouse.config.loader import ConfigError

LAYERS = ("bronze", "silver", "gold")
_TABLE_REF = re.compile(r"^(bronze|silver|gold)\.[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ColumnSpec:
    """A column: its Spark SQL type and, in silver, the expression that computes it."""

    type: str
    expr: str | None = None
    description: str = ""

    @classmethod
    def from_shorthand(cls, value: Any, file: str | Path, key: str) -> Any:
        # `order_id: string` is the common case; the mapping form is for expressions.
        return {"type": value} if isinstance(value, str) else value


@dataclass(frozen=True)
class SourceSpec:
    """Files an operational system drops into the landing area."""

    format: Literal["csv", "json", "parquet"]
    path: str
    schema: dict[str, ColumnSpec]
    options: dict[str, str] = field(default_factory=dict)

    def validate(self, file: str | Path, key: str) -> None:
        if not self.schema:
            raise ConfigError(file, f"{key}.schema", "declare at least one column")


@dataclass(frozen=True)
class BronzeSpec:
    source: SourceSpec
    description: str = ""
    partition_by: tuple[str, ...] = ()

    @property
    def upstream(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class SilverSpec:
    source: str
    keys: tuple[str, ...]
    columns: dict[str, ColumnSpec]
    # Which version of a key is the latest: the largest value of these columns. Without them,
    # arrival order (file, then line) decides.
    sequence_by: tuple[str, ...] = ()
    description: str = ""
    partition_by: tuple[str, ...] = ()

    @property
    def upstream(self) -> tuple[str, ...]:
        return (self.source,)

    def validate(self, file: str | Path, key: str) -> None:
        if not self.keys:
            raise ConfigError(file, "keys", "declare at least one business key column")
        for k in self.keys:
            if k not in self.columns:
                raise ConfigError(file, "keys", f"key column {k!r} is not one of the columns")
        for c in self.sequence_by:
            if c not in self.columns:
                raise ConfigError(file, "sequence_by", f"column {c!r} is not one of the columns")


@dataclass(frozen=True)
class GoldSpec:
    inputs: dict[str, str]
    key: tuple[str, ...]
    sql: str
    changes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    partition_by: tuple[str, ...] = ()

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(self.inputs.values())

    def validate(self, file: str | Path, key: str) -> None:
        if not self.inputs:
            raise ConfigError(file, "inputs", "declare at least one input table")
        for alias, columns in self.changes.items():
            if alias not in self.inputs:
                raise ConfigError(file, f"changes.{alias}", "not one of the inputs")
            if len(columns) != len(self.key):
                raise ConfigError(
                    file,
                    f"changes.{alias}",
                    f"name one column for each key column {list(self.key)}",
                )
        if not self.changes:
            raise ConfigError(
                file, "changes", "declare, for at least one input, the column that carries the key"
            )


@dataclass(frozen=True)
class ProfileSpec:
    master: str | None = None
    spark: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageSpec:
    root: str
    landing: str = ""


@dataclass(frozen=True)
class LakehouseSpec:
    storage: StorageSpec
    profiles: dict[str, ProfileSpec]
    default_profile: str = "local"
    spark: dict[str, str] = field(default_factory=dict)
    tables: str = "tables"

    def validate(self, file: str | Path, key: str) -> None:
        if self.default_profile not in self.profiles:
            raise ConfigError(
                file, "default_profile", f"{self.default_profile!r} is not one of the profiles"
            )


SPEC_BY_LAYER = {"bronze": BronzeSpec, "silver": SilverSpec, "gold": GoldSpec}


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
