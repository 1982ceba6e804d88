"""Run tables in dependency order and report what each one holds afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakehouse import bronze, delta_io, gold, silver
from lakehouse.config import Project, Table

REFRESH_BY_LAYER: dict[str, Callable[[SparkSession, Project, Table, str], object]] = {
    "bronze": bronze.ingest,
    "silver": silver.refresh,
    "gold": gold.refresh,
}


@dataclass(frozen=True)
class TableReport:
    layer: str
    table: str
    rows: int
    version: int | None
    seconds: float
    detail: object


def refresh_table(spark: SparkSession, project: Project, table: Table, run_id: str) -> TableReport:
    started = time.monotonic()
    detail = REFRESH_BY_LAYER[table.layer](spark, project, table, run_id)
    path = project.table_path(table)
    exists = delta_io.exists(spark, path)
    return TableReport(
        layer=table.layer,
        table=table.name,
        rows=spark.read.format("delta").load(path).count() if exists else 0,
        version=delta_io.current_version(spark, path) if exists else None,
        seconds=time.monotonic() - started,
        detail=detail,
    )


def run(
    spark: SparkSession,
    project: Project,
    run_id: str,
    layers: tuple[str, ...] | None = None,
    on_table: Callable[[TableReport], None] | None = None,
    parallelism: int = 4,
) -> list[TableReport]:
    """Refresh the selected tables, each as soon as everything it reads is done.

    Independent tables run side by side: most of a small table's time is the driver waiting
    on Delta's log and the stream's start-up, not the cores.
    """
    selected = [t for t in project.in_dependency_order() if not layers or t.layer in layers]
    selected_refs = {t.ref for t in selected}
    waiting = {t.ref: {u for u in t.upstream if u in selected_refs} for t in selected}
    reports: list[TableReport] = []
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="refresh") as pool:
        running: dict[Future[TableReport], Table] = {}
        while waiting or running:
            for table in selected:
                if table.ref in waiting and not waiting[table.ref]:
                    del waiting[table.ref]
                    running[pool.submit(refresh_table, spark, project, table, run_id)] = table
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                table = running.pop(future)
                report = future.result()  # a failure stops the run here, naming its table
                reports.append(report)
                if on_table:
                    on_table(report)
                for upstream in waiting.values():
                    upstream.discard(table.ref)
    order = {t.ref: i for i, t in enumerate(selected)}
    return sorted(reports, key=lambda r: order[f"{r.layer}.{r.table}"])


def format_reports(reports: list[TableReport]) -> str:
    header = f"{'layer':<7} {'table':<24} {'rows':>10} {'version':>8} {'seconds':>8}"
    lines = [header, "-" * len(header)]
    for r in reports:
        version = "-" if r.version is None else str(r.version)
        lines.append(f"{r.layer:<7} {r.table:<24} {r.rows:>10} {version:>8} {r.seconds:>8.1f}")
    return "\n".join(lines)
