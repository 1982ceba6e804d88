"""The typed shape of lakehouse.yaml: storage, profiles, operations and quality settings that
hold for the whole project (the tables' own files are read by ``tables``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lakehouse.config.table_blocks import MaintenanceSpec
from lakehouse.config.yaml_model import ConfigModel, Flag, Int, Setting, Text, problem, within


class MetastoreSpec(ConfigModel):
    """A Hive metastore in a database of its own (PostgreSQL): table names every process sees."""

    url: Text = Field(
        "",
        description="jdbc:postgresql://host:port/database, without credentials; empty: the "
        "session's own catalog",
    )
    secrets: dict[Literal["user", "password"], Text] = Field(
        {}, description="user / password -> environment variable (or <VAR>_FILE)"
    )

    @model_validator(mode="after")
    def _url_without_credentials(self) -> MetastoreSpec:
        if self.url and not self.url.startswith("jdbc:"):
            raise problem("url", f"expected jdbc:<driver>://..., got {self.url!r}")
        if "@" in self.url or "password=" in self.url.lower():
            raise problem("url", "credentials go under secrets:, not in the url")
        return self


class ProfileSpec(ConfigModel):
    master: Text | None = Field(None, description="Spark master: local[2]; none on a cluster")
    spark: dict[str, Setting] = Field({}, description="Spark settings of this profile")
    metastore: MetastoreSpec = Field(
        MetastoreSpec(), description="table names shared by every process (docs/operations.md)"
    )


class S3Spec(ConfigModel):
    """How s3a:// paths are reached: AWS, or any S3-compatible server."""

    endpoint: Text = Field("", description="empty: AWS's endpoint of the region")
    region: Text = "us-east-1"
    path_style: Flag = Field(
        False, description="bucket in the path (most S3-compatible servers), not the host"
    )
    secrets: dict[Literal["access_key", "secret_key"], Text] = Field(
        {},
        description="access_key / secret_key -> environment variable (or <VAR>_FILE); unset: "
        "AWS's default chain (instance or pod role, ~/.aws)",
    )


class StorageSpec(ConfigModel):
    root: Text = Field(description="bronze/, silver/, gold/ and _checkpoints/ go under it")
    landing: Text = Field(
        "", description="where operational systems drop files; default <root>/landing"
    )
    s3: S3Spec = Field(S3Spec(), description="how s3a:// roots and landings are reached")


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
