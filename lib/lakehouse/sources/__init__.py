"""Sources that are not files in the landing area: Kafka topics and databases over JDBC.

Each lands in bronze the way files do: exactly once, as it arrived, with its coordinates as
lineage. ``ingest`` is bronze's entry point for them (docs/sources.md).
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakehouse.config import Project, Table
from lakehouse.context import RunContext
from lakehouse.results import RefreshResult


class SourceUnavailable(RuntimeError):
    """The source system could not be reached or read (an outage, not bad data)."""


def ingest(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    import importlib

    module = importlib.import_module(f"lakehouse.sources.{table.spec.source.format}")
    return module.ingest(spark, project, table, ctx)
