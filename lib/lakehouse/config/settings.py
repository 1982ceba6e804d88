"""The typed shape of lakehouse.yaml: storage, profiles, operations and quality settings that
hold for the whole project (the tables' own files are read by ``tables``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from lakehouse.config.table_blocks import MaintenanceSpec
from lakehouse.config.yaml_model import ConfigModel, Flag, Int, Setting, Text, problem, within


class ProfileSpec(ConfigModel):
    master: Text | None = Field(None, description="Spark master: local[2]; none on a cluster")
    spark: dict[str, Setting] = Field({}, description="Spark settings of this profile")


class StorageSpec(ConfigModel):
    root: Text = Field(description="bronze/, silver/, gold/ and _checkpoints/ go under it")
    landing: Text = Field(
        "", description="where operational systems drop files; default <root>/landing"
    )


class OperationsSpec(ConfigModel):
    """How runs are kept apart and recorded, and the maintenance every table gets by default."""

    run_log: Text = Field("_ops/run_log", description="Delta table under the root")
    lock: Text = Field("_ops/lock", description="one run at a time per warehouse; under the root")
    lock_stale_seconds: Int = Field(
        300, description="a lock not renewed for this long was left by a dead run"
    )
    maintenance: MaintenanceSpec = Field(
        MaintenanceSpec(), description="every table's default; a table file may override it"
    )


class QualitySpec(ConfigModel):
    # The row-level checks themselves always run as Spark expressions.
    great_expectations: Flag = Field(
        True, description="validate each batch with Great Expectations too (Data Docs)"
    )
    # GX rebuilds the index after every batch from each run it lists, so without a bound a
    # day's validation grows slower with every day the warehouse has lived.
    data_docs_index_runs: within(int, ge=1) = Field(
        200, description="the Data Docs index lists this many latest validation runs"
    )


class LakehouseSpec(ConfigModel):
    """conf/lakehouse.yaml"""

    storage: StorageSpec
    profiles: dict[str, ProfileSpec]
    default_profile: Text = "local"
    spark: dict[str, Setting] = Field({}, description="Spark settings of every profile")
    tables: Text = Field("tables", description="folder of the table files: <layer>/<name>.yaml")
    tables_overlay: Text = Field(
        "",
        description="a folder laid out like `tables` whose files replace (or add to) the "
        "tables of the same name, e.g. systems/real",
    )
    operations: OperationsSpec = OperationsSpec()
    harmonisation: Text = Field("harmonisation.yaml", description="relative to this file")
    expectations: Text = Field(
        "../expectations", description="folder of the quality suites, relative to this file"
    )
    quality: QualitySpec = QualitySpec()

    @model_validator(mode="after")
    def _default_profile_exists(self) -> LakehouseSpec:
        if self.default_profile not in self.profiles:
            raise problem("default_profile", f"{self.default_profile!r} is not one of the profiles")
        return self
