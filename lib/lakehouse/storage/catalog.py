"""Catalog registration: tables get names (``silver.orders``, ``gold.fct_orders``) as well as
paths, in a database per layer.

With a persistent catalog (a Hive metastore, the profile's ``metastore``) a name registered
by one job is there for every later process (``./spark-submit.sh sql``, spark-sql, a notebook);
with the session's own catalog it lasts as long as the job."""

from __future__ import annotations

import re
import threading

from pyspark.sql import SparkSession

from lakehouse.config import Project, Table
from lakehouse.storage import delta_tables

LAYERS = ("bronze", "silver", "gold")
_registered: set[tuple[int, str, str]] = set()
_registering = threading.Lock()
_LOCATION = re.compile(r"^Location: (.+)$", re.M)


def is_persistent(spark: SparkSession) -> bool:
    return spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive"


def _same(a: str, b: str) -> bool:
    def plain(p: str) -> str:
        return re.sub(r"^file:/+", "/", p).rstrip("/")

    return plain(a) == plain(b)


def _location(spark: SparkSession, layer: str, name: str) -> str | None:
    """Where the name points, from the catalog alone (``DESCRIBE DETAIL`` would read the
    table's log); None when there is no such name."""
    rows = spark.sql(f"SHOW TABLE EXTENDED IN {layer} LIKE '{name}'").collect()
    found = _LOCATION.search(rows[0]["information"]) if rows else None
    return found.group(1).strip() if found else ("" if rows else None)


def register(spark: SparkSession, project: Project, table: Table) -> None:
    """Name the table in its layer's database (made if missing); a name that points elsewhere
    (another root) is moved to this table. Only names change: the data stays where it is."""
    name = f"{table.layer}.{table.name}"
    path = project.table_path(table)
    done = (id(spark.sparkContext), name, path)
    if done in _registered:
        return
    with _registering:  # refreshes side by side would race to create the database
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {table.layer}")
        location = _location(spark, table.layer, table.name)
        if location is not None and not _same(location, path):
            spark.sql(f"DROP TABLE {name}")  # an external table: only the name goes
        if location is None or not _same(location, path):
            spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING delta LOCATION '{path}'")
        _registered.add(done)


def register_existing(
    spark: SparkSession, project: Project, layers: tuple[str, ...] = LAYERS
) -> list[str]:
    """Register every existing table of ``layers``; returns the names registered."""
    names = []
    for table in project.in_dependency_order():
        if table.layer in layers and delta_tables.exists(spark, project.table_path(table)):
            register(spark, project, table)
            names.append(table.ref)
    return names


def register_all(spark: SparkSession, project: Project, layer: str = "gold") -> list[str]:
    """Register every existing table of ``layer`` (gold's own call)."""
    return register_existing(spark, project, (layer,))
