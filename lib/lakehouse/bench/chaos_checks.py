"""What the chaos drill checks once its last clean run is done (see ``chaos``): bronze holds
exactly the rows sent, silver one row per key, gold what a full rebuild gives."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from lakehouse.config import Project, Table
from lakehouse.simulator.systems import RealSystems


def _manifests(landing: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((landing / "_manifest").glob("*.json"))]


def _read(spark: SparkSession, path: str | Path) -> DataFrame:
    return spark.read.format("delta").load(str(path))


def _rows_and_distinct(df: DataFrame, columns) -> tuple[int, int]:
    """Rows, and distinct values of ``columns`` (nulls a value too), in one job."""
    found = df.groupBy(*columns).count().agg(F.sum("count"), F.count(F.lit(1))).first()
    return int(found[0] or 0), int(found[1])


def _comparable(df: DataFrame) -> DataFrame:
    """Maps as sorted entries: EXCEPT cannot compare maps."""
    return df.select(
        *[
            F.array_sort(F.map_entries(F.col(f.name))).alias(f.name)
            if isinstance(f.dataType, MapType)
            else F.col(f.name)
            for f in df.schema.fields
        ]
    )


def _bronze_from_database(spark, project: Project, table: Table) -> tuple[dict, list[str]]:
    """The database's rows now (key and change time) are all in bronze; bronze has no key the
    database never had (a key gone from it has its delete row)."""
    jdbc = table.spec.source.jdbc
    keys = list(jdbc.compare_keys or (next(iter(table.spec.source.schema)),))
    text_keys = " || ':' || ".join(f"coalesce({k}::text, '')" for k in keys)
    with RealSystems(project, project.landing, 0, 0.0).connect(table) as conn:
        stored = {
            (key, at)
            for key, at in conn.execute(
                f"SELECT {text_keys}, to_char({jdbc.watermark}, 'YYYY-MM-DD HH24:MI:SS.US') "
                f"FROM {jdbc.table}"
            ).fetchall()
        }
    df = _read(spark, project.table_path(table))
    key = F.concat_ws(":", *[F.coalesce(F.col(k).cast("string"), F.lit("")) for k in keys])
    deleted = F.col("_source_deleted") if "_source_deleted" in df.columns else F.lit(False)
    rows = df.select(
        key.alias("k"),
        F.date_format(jdbc.watermark, "yyyy-MM-dd HH:mm:ss.SSSSSS").alias("at"),
        F.coalesce(deleted, F.lit(False)).alias("deleted"),
    ).collect()
    landed = {(r.k, r.at) for r in rows if not r.deleted}
    gone = {r.k for r in rows if r.deleted}
    stored_keys = {k for k, _ in stored}
    failures = []
    missing = stored - landed
    if missing:
        failures.append(
            f"{table.ref}: {len(missing)} database rows not in bronze, e.g. {sorted(missing)[:3]}"
        )
    strangers = {k for k, _ in landed} - stored_keys - gone
    if strangers:
        failures.append(
            f"{table.ref}: {len(strangers)} keys the database does not hold, e.g. {sorted(strangers)[:3]}"
        )
    if gone & stored_keys:
        failures.append(f"{table.ref}: keys marked deleted but still in the database")
    return {
        "database_rows": len(stored),
        "bronze_rows": len(rows),
        "deleted_keys": len(gone),
    }, failures


def _bronze(spark, project: Project, table: Table, manifests: list[dict]) -> tuple[dict, list[str]]:
    source = table.spec.source
    if source.format == "jdbc":
        return _bronze_from_database(spark, project, table)
    df = _read(spark, project.table_path(table))
    if source.format == "kafka":
        sent = sum(
            m["systems"]["topics"].get(source.kafka.topic, {}).get("messages", 0) for m in manifests
        )
        coordinates = ["_kafka_partition", "_kafka_offset"]
    else:
        sent = sum(m["sources"].get(table.name, {}).get("rows", 0) for m in manifests)
        coordinates = ["_source_file", "_source_row"]
    landed, distinct = _rows_and_distinct(df, coordinates)
    failures = []
    if landed != sent or distinct != landed:
        failures.append(f"{table.ref}: {sent} sent, {landed} rows in bronze ({distinct} distinct)")
    return {"sent": sent, "bronze_rows": landed}, failures


def check(spark: SparkSession, project: Project, incremental_gold: Path) -> tuple[dict, list[str]]:
    """Figures per table and what failed. ``project`` is the drill's configuration (its
    warehouse, landing and the real-systems overlay), whose gold is the rebuild;
    ``incremental_gold`` holds the gold tables as the runs left them."""
    figures: dict[str, object] = {}
    failures: list[str] = []
    manifests = _manifests(Path(project.landing))
    for table in project.tables.values():
        if table.layer == "bronze":
            figures[table.ref], failed = _bronze(spark, project, table, manifests)
            failures += failed
        elif table.layer == "silver":
            df = _read(spark, project.table_path(table))
            rows, keys = _rows_and_distinct(df, table.spec.keys)
            figures[table.ref] = {"rows": rows}
            if rows != keys:
                failures.append(f"{table.ref}: {rows} rows for {keys} keys")
    for table in project.in_dependency_order():
        if table.layer != "gold":
            continue
        rebuilt = _comparable(_read(spark, project.table_path(table)))
        kept = _comparable(_read(spark, incremental_gold / table.name))
        kept = kept.select(*rebuilt.columns)
        extra, missing = kept.exceptAll(rebuilt).count(), rebuilt.exceptAll(kept).count()
        figures[table.ref] = {"rows": rebuilt.count()}
        if extra or missing:
            failures.append(
                f"{table.ref}: {extra} rows only incremental, {missing} only in the rebuild"
            )
    return figures, failures
