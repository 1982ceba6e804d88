"""Blocks that a table file of any layer may hold: its columns' types, who its rows belong to
(erasure) and how it is maintained."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lakehouse.config.yaml_model import ConfigModel, Flag, Int, Names, Text, problem

SAFE_RETENTION_HOURS = 168  # Delta's default delta.deletedFileRetentionDuration


class ColumnSpec(ConfigModel):
    """A column: its Spark SQL type and, in silver, the expression that computes it.
    ``order_id: string`` is short for ``order_id: {type: string}``."""

    shorthand = "type"

    type: Text = Field(description="Spark SQL type: string, int, decimal(12,2), timestamp ...")
    expr: Text | None = Field(None, description="silver: SQL over bronze; default the same name")
    harmonise: Literal["timestamp", "date", "country", "city"] | None = Field(
        None,
        description="a rule of conf/harmonisation.yaml, applied to the value before the cast",
    )
    description: Text = ""


class ErasureSpec(ConfigModel):
    """Which rows of a table belong to a data subject, for the erasure job.

    ``column`` holds the subject's id or a value derived from it; ``expr`` (SQL over
    ``subject_id``) derives that value from the id, e.g. ``xxhash64(subject_id)`` for a
    surrogate key.
    """

    column: Text
    expr: Text = "subject_id"


class MaintenanceSpec(ConfigModel):
    """How the maintenance job keeps a table fast and its storage bounded."""

    optimize: Flag = True
    # One or the other, and neither on a partitioned table's partition columns.
    zorder_by: Names = Field((), description="Z-order within files by these columns")
    cluster_by: Names = Field(
        (), description="liquid clustering by these columns (Delta rewrites the layout to it)"
    )
    # Below Delta's safe default (7 days) a stream reading an older version, or a long query,
    # could lose its files, so shorter needs `allow_short_retention: true`.
    vacuum_retain_hours: Int | None = Field(
        None, description="files no longer referenced are deleted after this many hours"
    )
    allow_short_retention: Flag = False
    statistics: Flag = True

    @model_validator(mode="after")
    def _layout_and_retention(self) -> MaintenanceSpec:
        if self.zorder_by and self.cluster_by:
            raise problem("", "declare zorder_by or cluster_by, not both")
        hours = self.vacuum_retain_hours
        if hours is not None and hours < SAFE_RETENTION_HOURS and not self.allow_short_retention:
            raise problem(
                "vacuum_retain_hours",
                f"{hours} hours is below the safe default of {SAFE_RETENTION_HOURS}; "
                "set allow_short_retention: true if that is intended",
            )
        return self
