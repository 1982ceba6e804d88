"""The typed shape of lakehouse.yaml: storage, profiles, operations and quality settings that
hold for the whole project (the tables' own blocks are in ``model``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.config.loader import ConfigError
from lakehouse.config.tables import MaintenanceSpec


@dataclass(frozen=True)
class MetastoreSpec:
    """A Hive metastore in a database of its own (PostgreSQL): table names every process sees."""

    url: str = ""  # jdbc:postgresql://host:port/database; empty: the session's own catalog
    # user / password -> environment variable holding it (or <VAR>_FILE naming a file that does)
    secrets: dict[str, str] = field(default_factory=dict)

    def validate(self, file: str | Path, key: str) -> None:
        if self.url and not self.url.startswith("jdbc:"):
            raise ConfigError(file, f"{key}.url", f"expected jdbc:<driver>://..., got {self.url!r}")
        if "@" in self.url or "password=" in self.url.lower():
            raise ConfigError(file, f"{key}.url", "credentials go under secrets:, not in the url")
        unknown = set(self.secrets) - {"user", "password"}
        if unknown:
            raise ConfigError(file, f"{key}.secrets", f"only user and password, not {unknown}")


@dataclass(frozen=True)
class ProfileSpec:
    master: str | None = None
    spark: dict[str, str] = field(default_factory=dict)
    metastore: MetastoreSpec = field(default_factory=MetastoreSpec)


@dataclass(frozen=True)
class S3Spec:
    """How s3a:// paths are reached: AWS, or any S3-compatible server."""

    endpoint: str = ""  # empty: AWS's endpoint of the region
    region: str = "us-east-1"
    path_style: bool = False  # bucket in the path (most S3-compatible servers), not the host
    # access_key / secret_key -> environment variable (or <VAR>_FILE); when the variables are
    # unset, AWS's default chain (instance or pod role, ~/.aws) supplies the credentials.
    secrets: dict[str, str] = field(default_factory=dict)

    def validate(self, file: str | Path, key: str) -> None:
        unknown = set(self.secrets) - {"access_key", "secret_key"}
        if unknown:
            raise ConfigError(
                file, f"{key}.secrets", f"only access_key and secret_key, not {unknown}"
            )


@dataclass(frozen=True)
class StorageSpec:
    root: str
    landing: str = ""
    s3: S3Spec = field(default_factory=S3Spec)


@dataclass(frozen=True)
class OperationsSpec:
    """How runs are kept apart and recorded, and the maintenance every table gets by default."""

    run_log: str = "_ops/run_log"  # under the root
    lock: str = "_ops/lock"  # under the root
    # A lock whose owner has not renewed it for this long is taken to be abandoned.
    lock_stale_seconds: int = 300
    maintenance: MaintenanceSpec = field(default_factory=MaintenanceSpec)


@dataclass(frozen=True)
class QualitySpec:
    # Validate each batch with Great Expectations too (results and HTML Data Docs). The
    # row-level checks themselves always run as Spark expressions.
    great_expectations: bool = True
    # The Data Docs index lists the latest this many validation runs; older runs keep their
    # pages. GX rebuilds the index after every batch from each run it lists, so without a
    # bound a day's validation grows slower with every day the warehouse has lived.
    data_docs_index_runs: int = 200

    def validate(self, file: str | Path, key: str) -> None:
        if self.data_docs_index_runs < 1:
            raise ConfigError(
                file,
                f"{key}.data_docs_index_runs" if key else "data_docs_index_runs",
                f"must be at least 1 (got {self.data_docs_index_runs})",
            )


@dataclass(frozen=True)
class LakehouseSpec:
    storage: StorageSpec
    profiles: dict[str, ProfileSpec]
    default_profile: str = "local"
    spark: dict[str, str] = field(default_factory=dict)
    tables: str = "tables"
    # A folder laid out like `tables` whose files replace (or add to) the tables of the same
    # name: the real-systems variant (systems/real: Kafka and PostgreSQL sources) is one.
    tables_overlay: str = ""
    operations: OperationsSpec = field(default_factory=OperationsSpec)
    harmonisation: str = "harmonisation.yaml"  # relative to this file
    expectations: str = "../expectations"  # folder of the quality suites, relative to this file
    quality: QualitySpec = field(default_factory=QualitySpec)

    def validate(self, file: str | Path, key: str) -> None:
        if self.default_profile not in self.profiles:
            raise ConfigError(
                file, "default_profile", f"{self.default_profile!r} is not one of the profiles"
            )
