"""Delta tables as every layer makes and asks about them: created before anyone reads, their
existence and latest version known without a Spark job."""

from __future__ import annotations

from delta.tables import DeltaTable
from deltalake import DeltaTable as DeltaLakeTable
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from lakehouse.storage import delta_log, hadoop_fs

CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}


def ensure_table(
    spark: SparkSession,
    path: str,
    schema: StructType,
    partition_by: tuple[str, ...] = (),
    properties: dict[str, str] | None = None,
) -> DeltaTable:
    """Create the table at ``path`` if it does not exist yet, so readers never meet a gap."""
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    return builder.execute()


def exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def current_version(spark: SparkSession, path: str) -> int | None:
    """The table's latest version (None: no table), from its log's listing: ``history(1)``
    would start a Spark job, and every refresh asks this."""
    return delta_log.latest_version(spark, path)


def row_count(spark: SparkSession, path: str) -> int | None:
    """Rows in the table, from its log's file statistics (delta-rs, no Spark job): the files'
    record counts less the rows their deletion vectors remove. None where the log is not on
    a local disk or a file has no statistics."""
    local = hadoop_fs.local_path(path)
    if local is None:
        return None
    actions = DeltaLakeTable(local).get_add_actions(flatten=True)
    counts = actions.column("num_records").to_pylist()
    if any(c is None for c in counts):
        return None
    removed = 0
    names = actions.schema.names
    if "deletionVector.cardinality" in names:
        removed = sum(c or 0 for c in actions.column("deletionVector.cardinality").to_pylist())
    return sum(counts) - removed
