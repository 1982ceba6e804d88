"""Running the selected tables: each as soon as everything it reads is done, side by side."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from lakehouse import bronze, gold, silver
from lakehouse.config import Project, Table
from lakehouse.context import RunContext
from lakehouse.errors import DataQualityError
from lakehouse.pipeline.selection import Selection, downstream_of, select
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import catalog, delta_log, delta_tables, exactly_once

Refresh = Callable[[SparkSession, Project, Table, RunContext], RefreshResult]
REFRESH_BY_LAYER: dict[str, Refresh] = {
    "bronze": bronze.ingest,
    "silver": silver.refresh,
    "gold": gold.refresh,
}
DEFAULT_PARALLELISM = 4  # tables refreshed side by side (see run)
Event = dict[str, Any]


class PipelineFailed(RuntimeError):
    """Some tables failed; the others that could run did. ``data_quality`` when every failure
    was a data-quality failure."""

    def __init__(self, reports: list[RefreshResult]):
        self.reports = reports
        failed = [r for r in reports if r.status in (Status.FAILED, Status.DATA_QUALITY_FAILED)]
        self.data_quality = all(r.status is Status.DATA_QUALITY_FAILED for r in failed)
        skipped = [r.ref for r in reports if r.status is Status.SKIPPED]
        first = failed[0]
        message = f"{len(failed)} table(s) failed: " + ", ".join(r.ref for r in failed)
        if skipped:
            message += f"; skipped downstream: {', '.join(skipped)}"
        super().__init__(f"{message}\n{first.ref}: {first.error}")


def commits_since(spark: SparkSession, path: str, after: int | None) -> tuple[int, dict[str, int]]:
    """The table's version now, and the rows read, written, updated and deleted by the commits
    after version ``after``, from Delta's own operation metrics.

    Read from the commit files themselves: ``history`` would cost a Spark job per table and run.
    """
    version = delta_log.latest_version(spark, path)
    totals = {"read": 0, "written": 0, "updated": 0, "deleted": 0}
    names = {
        "read": ("numSourceRows",),
        "written": ("numOutputRows", "numTargetRowsInserted"),
        "updated": ("numTargetRowsUpdated",),
        "deleted": ("numTargetRowsDeleted", "numDeletedRows"),
    }
    first = 0 if after is None else after + 1
    for number in range(first, (version if version is not None else -1) + 1):
        commit = delta_log.commit_info(spark, path, number)
        metrics = commit.get("operationMetrics") or {}
        if commit.get("operation") == "MERGE":
            metrics = {k: v for k, v in metrics.items() if k != "numOutputRows"}
        for total, keys in names.items():
            totals[total] += sum(int(metrics.get(k, 0) or 0) for k in keys)
    return version, totals


@contextmanager
def counted_jobs(spark: SparkSession, group: str) -> Iterator[Callable[[], int]]:
    """Spark jobs started inside from this thread (under job group ``group``) and by the
    streams it started (each micro-batch runs in its stream's own group)."""
    context = spark.sparkContext
    context.setJobGroup(group, group)
    exactly_once.started_streams()  # forget streams from before
    tracker = context.statusTracker()

    def jobs() -> int:
        groups = [group, *streams]
        return sum(len(tracker.getJobIdsForGroup(g)) for g in groups)

    streams: list[str] = []
    try:
        yield jobs
    finally:
        streams.extend(exactly_once.started_streams())
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)


def refresh_table(
    spark: SparkSession, project: Project, table: Table, ctx: RunContext
) -> RefreshResult:
    """Refresh one table with its layer's refresh, then add what Delta's log says it did."""
    started = time.monotonic()
    path = project.table_path(table)
    before = delta_log.latest_version(spark, path)
    with counted_jobs(spark, f"{ctx.run_id}:{table.ref}") as jobs:
        result = REFRESH_BY_LAYER[table.layer](spark, project, table, ctx)
    result = result.with_(spark_jobs=jobs())
    if result.status is Status.UP_TO_DATE:  # it started nothing: neither does its report
        if before is not None and catalog.is_persistent(spark):
            catalog.register(spark, project, table)  # a warehouse older than its metastore
        return result.with_(version=before, seconds=time.monotonic() - started)
    version, metrics = commits_since(spark, path, before)
    if version is None:  # a model that wrote nothing yet has no table
        return result.with_(seconds=time.monotonic() - started)
    catalog.register(spark, project, table)
    # A table that committed nothing (not due, or equal rows) holds what it held: not counted.
    committed = version != before
    return result.with_(
        rows=delta_tables.row_count(spark, path) if committed else None,
        version=version,
        seconds=time.monotonic() - started,
        # What the layer took in (bronze: the landed rows; silver: the stream's rows, before
        # dedup and rejects), else what the MERGEs were given.
        rows_read=metrics["read"] if result.rows_read is None else result.rows_read,
        rows_written=metrics["written"],
        rows_updated=metrics["updated"],
        rows_deleted=metrics["deleted"],
    )


def failed_result(table: Table, seconds: float, exc: BaseException) -> RefreshResult:
    quality = isinstance(exc, DataQualityError)
    return RefreshResult(
        table.ref,
        Status.DATA_QUALITY_FAILED if quality else Status.FAILED,
        seconds=seconds,
        error=short_error(exc),
    )


def short_error(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    # Py4J wraps the useful line deep inside a Java trace: keep the first lines that say what.
    return "\n".join(text.splitlines()[:12])


def run(
    spark: SparkSession,
    project: Project,
    ctx: RunContext,
    tables: list[Table] | None = None,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    on_event: Callable[[Event], None] | None = None,
    on_finished: Callable[[RefreshResult, datetime | None], None] | None = None,
    before_table: Callable[[], None] | None = None,
) -> list[RefreshResult]:
    """Refresh ``tables`` (default: all), each as soon as everything it reads is done.

    Independent tables run side by side: most of a small table's time is the driver waiting
    on Delta's log and the stream's start-up, not the cores. A failed table stops only what
    reads from it; the rest finishes, then PipelineFailed names what failed and was skipped.

    Example::

        results = run(spark, project, RunContext("nightly-1", "local"))
        [r.ref for r in results if r.status is Status.SUCCEEDED]
    """
    if tables is None:
        tables = select(project, Selection())
    selected_refs = {t.ref for t in tables}
    waiting = {t.ref: {u for u in t.upstream if u in selected_refs} for t in tables}
    emit = on_event or (lambda event: None)
    reports: list[RefreshResult] = []
    started_at: dict[str, Any] = {}

    def finish(report: RefreshResult) -> None:
        reports.append(report)
        if on_finished is not None:
            on_finished(report, started_at.get(report.ref))
        emit({"event": "table_" + report.status, "table": report.ref, **numbers(report)})

    def attempt(table: Table) -> RefreshResult:
        t0 = time.monotonic()
        try:
            if before_table:
                before_table()
            return refresh_table(spark, project, table, ctx)
        except Exception as exc:
            return failed_result(table, time.monotonic() - t0, exc)

    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="refresh") as pool:
        running: dict[Future[RefreshResult], Table] = {}
        while waiting or running:
            for table in tables:
                if table.ref in waiting and not waiting[table.ref]:
                    del waiting[table.ref]
                    started_at[table.ref] = datetime.now(UTC).replace(tzinfo=None)
                    emit({"event": "table_started", "table": table.ref})
                    running[pool.submit(attempt, table)] = table
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                table = running.pop(future)
                report = future.result()
                finish(report)
                if not report.status.ok:
                    for ref in sorted(downstream_of(project, [table.ref]) & set(waiting)):
                        del waiting[ref]
                        finish(
                            RefreshResult(ref, Status.SKIPPED, error=f"not run: {table.ref} failed")
                        )
                for upstream in waiting.values():
                    upstream.discard(table.ref)
    gold.release_change_sets(ctx.run_id)
    order = {t.ref: i for i, t in enumerate(tables)}
    reports.sort(key=lambda r: order[r.ref])
    if not all(r.status.ok for r in reports):
        raise PipelineFailed(reports)
    return reports


def numbers(report: RefreshResult) -> dict[str, Any]:
    """A result's figures, for an event."""
    out: dict[str, Any] = {
        "rows": report.rows,
        "rows_read": report.rows_read,
        "rows_written": report.rows_written,
        "rows_updated": report.rows_updated,
        "rows_quarantined": report.rows_quarantined,
        "version": report.version,
        "seconds": round(report.seconds, 2),
        "strategy": report.strategy,
        "spark_jobs": report.spark_jobs,
    }
    if report.error:
        out["error"] = report.error
    if report.note:
        out["note"] = report.note
    return out
