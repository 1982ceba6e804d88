"""A gold table file: a model over silver and gold tables, and how it is kept up to date
(README, docs/gold.md)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, model_validator

from lakehouse.config.table_blocks import ErasureSpec, MaintenanceSpec
from lakehouse.config.yaml_model import ConfigModel, Names, Setting, Text, problem, tag

_INTERVAL = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$")


def parse_interval(text: str) -> timedelta:
    """``"7 days"``, ``"12 hours"``, ``"1 week"``, ``"30 minutes"``."""
    match = _INTERVAL.match(str(text))
    if not match:
        raise ValueError(f"expected '<n> minutes|hours|days|weeks', got {text!r}")
    return timedelta(**{match[2] + "s": int(match[1])})


class ChangeQuery(ConfigModel):
    """For a lookup input: SQL over its changed rows (view ``changed``, with ``_change_type``)
    and the model's other inputs that returns the model keys those changes affect."""

    sql: Text


# An input's changes: the columns of its rows that carry the key, or a query for a lookup.
Change = Annotated[
    Annotated[Names, tag("columns")] | Annotated[ChangeQuery, tag("query")],
    Discriminator(lambda v: "<query>" if isinstance(v, dict | ChangeQuery) else "<columns>"),
]


class Scd2Spec(ConfigModel):
    """History kept as versions: a change in a tracked column opens a new version."""

    valid_from: Text = Field(description="output column: when the version began")
    track: Names = Field(description="columns whose change opens a version; others overwrite")
    version_key: Text = Field(description="surrogate key of a version (business key, valid_from)")


class MeasuresSpec(ConfigModel):
    """The columns of an additive model kept as running totals over its input's rows: a
    change adds its contribution (new rows) and takes back the old one (deleted or replaced
    rows). A minimum or maximum whose extreme row is taken back is recomputed for that key."""

    count: Text = Field(
        description="counts the input rows of a row's group: a group that falls to 0 is removed"
    )
    sum: Names = Field((), description="sums of integers or decimals (null counts as 0)")
    min: Names = Field((), description="smallest values (a first order date)")
    max: Names = Field((), description="largest values (a last order date)")

    @property
    def columns(self) -> tuple[str, ...]:
        """The measures that add up."""
        return (self.count, *self.sum)

    @property
    def extremes(self) -> dict[str, str]:
        """column -> "min" or "max"."""
        return {**dict.fromkeys(self.min, "min"), **dict.fromkeys(self.max, "max")}


class GoldSpec(ConfigModel):
    """conf/tables/gold/<name>.yaml"""

    key: Names = Field(description="the unit rebuilt together (an order, a day)")
    inputs: dict[str, Text] = Field({}, description="alias: table (silver.orders)")
    sql: Text | None = Field(None, description="the model: SQL over the inputs' aliases")
    transform: Text | None = Field(
        None,
        description="module:function taking the inputs (alias -> DataFrame) and params, "
        "returning a DataFrame, for models SQL cannot express",
    )
    params: dict[str, Any] = {}
    grain: Names = Field(
        (), description="the columns that identify a row, when one key holds many rows"
    )
    changes: dict[str, Change] = Field(
        {},
        description="per input: the columns of its changed rows that carry the key, or "
        "{sql: ...} finding the keys a lookup's changes touch",
    )
    rows: Literal["touched", "additive", "whole", "versions"] | None = Field(
        None,
        description="how a refresh computes rows: touched (the keys the changes touch; the "
        "default), additive (measures add the changes' contribution), whole (all inputs, "
        "for global ranks), versions (SCD2; the default with scd2)",
    )
    write: Literal["merge", "replace", "overwrite"] | None = Field(
        None,
        description="how they reach the table: merge (only changed rows rewritten), replace "
        "(the touched key values' rows overwritten), overwrite (whole). Default: replace for "
        "a one-column key holding many rows (a day of a mart), overwrite for whole, else merge",
    )
    measures: MeasuresSpec | None = None
    derived: dict[str, Text] = Field(
        {},
        description="columns computed after the SQL from the others: ratios of measures "
        '("1 - revenue / nullif(order_intake, 0)")',
    )
    scd2: Scd2Spec | None = None
    unknown: dict[str, Setting] = Field(
        {}, description='the "unknown" member: column -> value; others are null'
    )
    description: Text = ""
    partition_by: Names = ()
    erasure: ErasureSpec | None = None
    maintenance: MaintenanceSpec | None = None
    # For models that are costly and whole by nature (a trained model), where a day moves
    # little: runs in between leave the table as it is, its changes wait in the change feeds.
    refresh_every: Text | None = Field(None, description='at most one refresh per ("7 days")')

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(self.inputs.values())

    @property
    def computed_as(self) -> str:
        """How a refresh computes rows, declared or inferred."""
        return self.rows or ("versions" if self.scd2 else "touched")

    @property
    def incremental(self) -> bool:
        """Refreshed by what changed, as opposed to rebuilt whole."""
        return self.computed_as != "whole"

    @property
    def written_as(self) -> str:
        """How touched rows reach the table, declared or inferred."""
        if self.write:
            return self.write
        if self.computed_as == "whole":
            return "overwrite"
        one_key_many_rows = len(self.key) == 1 and bool(self.grain)
        simple = not self.scd2 and not self.unknown
        return "replace" if one_key_many_rows and simple else "merge"

    @property
    def refresh_interval(self) -> timedelta | None:
        return parse_interval(self.refresh_every) if self.refresh_every else None

    @property
    def direct_inputs(self) -> list[str]:
        """The inputs whose changed rows carry the key in their own columns (not lookups,
        whose change queries find the keys)."""
        return [a for a, c in self.changes.items() if isinstance(c, tuple)]

    @property
    def additive_input(self) -> str:
        """The input whose changed rows an additive model adds up (lookups' changes rebuild
        the keys they touch)."""
        return self.direct_inputs[0]

    @property
    def row_key(self) -> tuple[str, ...]:
        if self.scd2:
            return (*self.key, self.scd2.valid_from)
        return self.grain or self.key

    @model_validator(mode="before")
    @classmethod
    def _old_words(cls, data: Any) -> Any:
        moved = {
            "incremental": "rows: whole",
            "strategy": "rows: additive, or write: merge|replace",
        }
        for key, now in moved.items():
            if isinstance(data, dict) and key in data:
                raise problem(key, f"is now two settings, rows and write ({now})")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> GoldSpec:
        if (self.sql is None) == (self.transform is None):
            raise problem("sql", "declare either sql or transform (module:function)")
        if self.transform is not None and ":" not in self.transform:
            raise problem("transform", "expected module:function")
        for alias, change in self.changes.items():
            if alias not in self.inputs:
                raise problem(f"changes.{alias}", "not one of the inputs")
            if isinstance(change, tuple) and len(change) != len(self.key):
                raise problem(
                    f"changes.{alias}", f"name one column for each key column {list(self.key)}"
                )
        if self.refresh_every is not None:
            try:
                parse_interval(self.refresh_every)
            except ValueError as exc:
                raise problem("refresh_every", str(exc)) from None
        self._check_strategy()
        if not self.incremental:
            if self.changes:
                raise problem("changes", "a model rebuilt whole needs no changes")
            if self.scd2:
                raise problem("scd2", "history needs an incremental model")
            return self
        if not self.inputs:
            raise problem("inputs", "declare at least one input table")
        if not self.changes:
            raise problem(
                "changes", "declare, for at least one input, the column that carries the key"
            )
        if self.scd2 and (len(self.direct_inputs) != 1 or len(self.changes) != 1):
            raise problem("changes", "a model with history reads its versions from one input")
        return self

    def _check_strategy(self) -> None:
        rows, write = self.computed_as, self.written_as
        if (rows == "versions") != bool(self.scd2):
            raise problem("rows", "versions goes with scd2, and scd2 with versions")
        if write == "replace" and (len(self.key) != 1 or self.scd2 or self.unknown):
            raise problem("write", "replace needs a one-column key, no scd2 and no unknown member")
        if write == "overwrite" and rows != "whole":
            raise problem("write", "overwrite rewrites the whole table: it goes with rows: whole")
        if (rows == "additive") != (self.measures is not None):
            raise problem("measures", "declare measures with rows: additive, and only with it")
        if rows != "additive":
            return
        if self.sql is None or self.scd2 or self.unknown:
            raise problem("rows", "additive needs sql, no scd2 and no unknown member")
        if len(self.direct_inputs) != 1:
            raise problem(
                "changes",
                "an additive model adds up the changes of exactly one input "
                "named by its key columns; other inputs need change queries",
            )
        measures = (*self.measures.columns, *self.measures.extremes)
        clash = set(measures) & set((*self.row_key, *self.derived))
        if clash or len(set(measures)) < len(measures):
            raise problem("measures", "a measure is named twice, or is a key or derived")
