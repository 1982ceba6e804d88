"""Delta tables as every layer makes and asks about them: created before anyone reads, their
existence and latest version known without a Spark job."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from lakehouse.storage import delta_log

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
