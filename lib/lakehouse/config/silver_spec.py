"""A silver table file: one clean, typed row per business key (README, Silver)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lakehouse.config.table_blocks import ColumnSpec, ErasureSpec, MaintenanceSpec
from lakehouse.config.yaml_model import ConfigModel, Int, Names, Text, problem


class PiiPolicy(ConfigModel):
    """What silver does with a personal source column before anything else sees it.
    ``email: hash`` is short for ``email: {action: hash}``."""

    shorthand = "action"

    action: Literal["drop", "hash", "mask", "generalise"]
    keep_last: Int = Field(2, description="mask: characters left visible")
    to: Literal["year", "year_month", "postcode_area"] | None = Field(
        None, description="generalise: to what"
    )

    @model_validator(mode="after")
    def _generalise_to(self) -> PiiPolicy:
        if self.action == "generalise" and self.to is None:
            raise problem("to", "generalise needs `to:` (year, year_month, postcode_area)")
        return self


class SilverSpec(ConfigModel):
    """conf/tables/silver/<name>.yaml"""

    source: Text = Field(description="the bronze table: bronze.<name>")
    keys: Names = Field(description="the business key's columns")
    columns: dict[str, ColumnSpec] = Field(description="name: type, or {type, expr, harmonise}")
    sequence_by: Names = Field(
        (),
        description="the latest version of a key has the greatest value of these columns; "
        "without them, arrival order (file, then line) decides",
    )
    pii: dict[str, PiiPolicy] = Field(
        {}, description="personal source columns and their policy, applied first"
    )
    deleted_when: Text | None = Field(
        None,
        description="SQL over the bronze columns, true when the row says its key was deleted "
        "(`deleted_at IS NOT NULL`, `_source_deleted`); the key leaves silver then",
    )
    expectations: Text | None = Field(
        None, description="the quality suite, a file under expectations/ (silver/orders.yaml)"
    )
    description: Text = ""
    partition_by: Names = ()
    # The table is partitioned by it and a MERGE reads only the batch's days.
    key_date: Text | None = Field(
        None, description="SQL over the key columns: the business date a key carries"
    )
    erasure: ErasureSpec | None = None
    maintenance: MaintenanceSpec | None = None

    @property
    def upstream(self) -> tuple[str, ...]:
        return (self.source,)

    @model_validator(mode="after")
    def _keys_are_columns(self) -> SilverSpec:
        if not self.keys:
            raise problem("keys", "declare at least one business key column")
        for k in self.keys:
            if k not in self.columns:
                raise problem("keys", f"key column {k!r} is not one of the columns")
        for c in self.sequence_by:
            if c not in self.columns:
                raise problem("sequence_by", f"column {c!r} is not one of the columns")
        if self.key_date and self.partition_by:
            raise problem("key_date", "the table is partitioned by its key date: drop partition_by")
        return self
