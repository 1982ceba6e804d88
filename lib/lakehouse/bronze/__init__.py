"""Bronze: every record the operational systems produce, exactly once, as it arrived.

A source is a folder of files in the landing area (``files``), a Kafka topic (``kafka``) or a
database table read by a watermark (``jdbc``); each lands the same way, with its coordinates
as lineage (``columns``) and files checked against their declared contract (``contracts``).

Example::

    from lakehouse import bronze

    result = bronze.ingest(spark, project, project.table("bronze.orders"), ctx)
    result.files, result.rows_read
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakehouse.bronze import files, jdbc, kafka
from lakehouse.bronze.files import listing_options
from lakehouse.config import Project, Table
from lakehouse.context import RunContext
from lakehouse.results import RefreshResult

_INGEST_BY_FORMAT = {"kafka": kafka.ingest, "jdbc": jdbc.ingest}


def ingest(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    """Land what is new in the table's source: files not taken before, a topic's messages
    since the checkpoint, a database's rows past the watermark."""
    refresh = _INGEST_BY_FORMAT.get(table.spec.source.format, files.ingest)
    return refresh(spark, project, table, ctx)


__all__ = ["ingest", "listing_options"]
