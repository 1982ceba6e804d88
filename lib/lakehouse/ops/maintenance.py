"""Keep Delta tables fast and their storage bounded: OPTIMIZE (Z-order or liquid clustering
where declared), VACUUM with the table's retention, and fresh file statistics.

The blocks work on a path, so other jobs (erasure, which must VACUUM rewritten files away)
use them without a Table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Project, Table
from lakehouse.config.tables import SAFE_RETENTION_HOURS, MaintenanceSpec
from lakehouse.storage import hadoop_fs

_ORDERABLE = (
    T.NumericType,
    T.StringType,
    T.DateType,
    T.TimestampType,
    T.TimestampNTZType,
    T.BooleanType,
)
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


def settings_for(project: Project, table: Table) -> MaintenanceSpec:
    """The table's own block, else the lakehouse-wide default."""
    return table.spec.maintenance or project.settings.operations.maintenance


def file_count(spark: SparkSession, path: str) -> int:
    return spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()["numFiles"]


def clustering_columns(spark: SparkSession, path: str) -> list[str]:
    return list(spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()["clusteringColumns"] or [])


def optimize(spark: SparkSession, path: str, spec: MaintenanceSpec) -> dict[str, int]:
    """Compact small files; Z-order or cluster them when declared. Returns Delta's metrics."""
    table = DeltaTable.forPath(spark, path)
    if spec.cluster_by:
        if clustering_columns(spark, path) != list(spec.cluster_by):
            columns = ", ".join(f"`{c}`" for c in spec.cluster_by)
            spark.sql(f"ALTER TABLE delta.`{path}` CLUSTER BY ({columns})")
        # FULL: rows written before clustering was declared are clustered too.
        result = spark.sql(f"OPTIMIZE delta.`{path}` FULL")
    elif spec.zorder_by:
        result = table.optimize().executeZOrderBy(*spec.zorder_by)
    else:
        result = table.optimize().executeCompaction()
    metrics = result.first()["metrics"]
    return {"files_added": metrics["numFilesAdded"], "files_removed": metrics["numFilesRemoved"]}


@contextmanager
def _retention_check(enabled: bool) -> Iterator[None]:
    spark = SparkSession.getActiveSession()
    before = spark.conf.get(_RETENTION_CHECK, "true")
    spark.conf.set(_RETENTION_CHECK, str(enabled).lower())
    try:
        yield
    finally:
        spark.conf.set(_RETENTION_CHECK, before)


def vacuum(
    spark: SparkSession, path: str, retain_hours: int | None, allow_short: bool = False
) -> int:
    """Delete files the table no longer references and that are older than the retention.

    Below the safe default only when asked: a stream or a query still reading an older version
    would lose its files. Returns how many files the table directory lost.
    """
    hours = SAFE_RETENTION_HOURS if retain_hours is None else retain_hours
    if hours < SAFE_RETENTION_HOURS and not allow_short:
        raise ValueError(
            f"VACUUM of {path} with {hours} hours is below the safe default of "
            f"{SAFE_RETENTION_HOURS}; pass allow_short_retention to do it anyway"
        )
    before = _data_files(spark, path)
    with _retention_check(enabled=hours >= SAFE_RETENTION_HOURS):
        DeltaTable.forPath(spark, path).vacuum(float(hours))
    return before - _data_files(spark, path)


def _data_files(spark: SparkSession, path: str) -> int:
    fs, root = hadoop_fs.file_system(spark, path)
    files = fs.listFiles(root, True)
    count = 0
    while files.hasNext():
        name = files.next().getPath().toString()
        count += name.endswith(".parquet") and "/_delta_log/" not in name
    return count


def compute_statistics(spark: SparkSession, path: str, max_columns: int = 32) -> dict:
    """Row count and, per column, nulls, distinct values (approximate), min and max.

    Open-source Delta has no ANALYZE for path tables; it keeps per-file min, max and null
    counts itself at write time (for data skipping, first 32 columns). These table-level
    numbers are for people and monitors: the maintenance job records them in the run log.
    """
    df = spark.read.format("delta").load(path)
    columns = [f for f in df.schema.fields if isinstance(f.dataType, _ORDERABLE)][:max_columns]
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for f in columns:
        c = F.col(f"`{f.name}`")
        aggregates += [
            F.count_if(c.isNull()).alias(f"{f.name}|nulls"),
            F.approx_count_distinct(c).alias(f"{f.name}|distinct"),
            F.min(c).cast("string").alias(f"{f.name}|min"),
            F.max(c).cast("string").alias(f"{f.name}|max"),
        ]
    row = df.agg(*aggregates).first().asDict()
    stats: dict = {"rows": row.pop("rows"), "columns": {}}
    for key, value in row.items():
        column, measure = key.rsplit("|", 1)
        stats["columns"].setdefault(column, {})[measure] = value
    return stats


@dataclass(frozen=True)
class MaintenanceResult:
    target: str
    path: str
    files_before: int
    files_after: int
    files_deleted: int
    version: int | None
    seconds: float
    done: tuple[str, ...]
    statistics: dict | None = None

    def describe(self) -> str:
        return (
            f"{', '.join(self.done) or 'nothing'}; files {self.files_before} -> "
            f"{self.files_after}, {self.files_deleted} deleted from storage"
        )


def maintain(
    spark: SparkSession, target: str, path: str, spec: MaintenanceSpec
) -> MaintenanceResult:
    started = time.monotonic()
    before = file_count(spark, path)
    done: list[str] = []
    if spec.optimize or spec.zorder_by or spec.cluster_by:
        metrics = optimize(spark, path, spec)
        how = (
            f" clustered by {','.join(spec.cluster_by)}"
            if spec.cluster_by
            else f" z-ordered by {','.join(spec.zorder_by)}"
            if spec.zorder_by
            else ""
        )
        done.append(f"optimize{how} (+{metrics['files_added']}/-{metrics['files_removed']})")
    deleted = 0
    if spec.vacuum_retain_hours is not None:
        deleted = vacuum(spark, path, spec.vacuum_retain_hours, spec.allow_short_retention)
        done.append(f"vacuum {spec.vacuum_retain_hours}h")
    statistics = None
    if spec.statistics:
        statistics = compute_statistics(spark, path)
        done.append(f"statistics ({statistics['rows']} rows)")
    version = DeltaTable.forPath(spark, path).history(1).first()["version"]
    return MaintenanceResult(
        target=target,
        path=path,
        files_before=before,
        files_after=file_count(spark, path),
        files_deleted=deleted,
        version=version,
        seconds=time.monotonic() - started,
        done=tuple(done),
        statistics=statistics,
    )
