"""Catalog registration: gold tables get names (``gold.fct_orders``) as well as paths."""

from __future__ import annotations

import threading

from pyspark.sql import SparkSession

from lakehouse.config import Project, Table
from lakehouse.storage import delta_tables

_registered: set[tuple[int, str, str]] = set()
_registering = threading.Lock()


def register(spark: SparkSession, project: Project, table: Table) -> None:
    """Name the table in the session catalog (``gold.fct_orders``): with a persistent catalog
    (Hive metastore) spark-sql users find it there in later sessions too."""
    name = f"{table.layer}.{table.name}"
    path = project.table_path(table)
    done = (id(spark.sparkContext), name, path)
    if done in _registered:
        return
    with _registering:  # refreshes side by side would race to create the database
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {table.layer}")
        if spark.catalog.tableExists(name):
            location = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
            if location.removeprefix("file:").rstrip("/") != path.removeprefix("file:").rstrip("/"):
                spark.sql(f"DROP TABLE {name}")  # an external table: only the name goes
        spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING delta LOCATION '{path}'")
        _registered.add(done)


def register_all(spark: SparkSession, project: Project, layer: str = "gold") -> list[str]:
    """Register every existing table of ``layer``; returns the names registered."""
    names = []
    for table in project.in_dependency_order():
        if table.layer == layer and delta_tables.exists(spark, project.table_path(table)):
            register(spark, project, table)
            names.append(f"{table.layer}.{table.name}")
    return names
