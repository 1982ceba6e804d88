"""Choose tables from the YAML graph, run them in dependency order and record what happened."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TextIO

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from lakehouse import bronze, delta_io, gold, runlog, silver
from lakehouse.config import Project, Table
from lakehouse.config.model import LAYERS
from lakehouse.errors import is_data_quality_failure

REFRESH_BY_LAYER: dict[str, Callable[[SparkSession, Project, Table, str], object]] = {
    "bronze": bronze.ingest,
    "silver": silver.refresh,
    "gold": gold.refresh,
}
DEFAULT_PARALLELISM = 4  # tables refreshed side by side (see run)

# ---------------------------------------------------------------------------------------------
# Which tables


@dataclass(frozen=True)
class Selection:
    """What to run. Empty means everything; the filters narrow it in this order: tables (with
    their upstream and/or downstream), then layers. ``days`` restricts which landed files
    bronze takes (see ``for_days``). ``refresh_now`` refreshes models whose
    ``refresh_every`` has not passed yet too."""

    tables: tuple[str, ...] = ()
    upstream: bool = False
    downstream: bool = False
    layers: tuple[str, ...] = ()
    days: tuple[date, ...] = ()
    refresh_now: bool = False

    def describe(self) -> str:
        parts = []
        if self.tables:
            scope = "+upstream" if self.upstream else ""
            scope += "+downstream" if self.downstream else ""
            parts.append(f"tables={','.join(self.tables)}{scope}")
        if self.layers:
            parts.append(f"layers={','.join(self.layers)}")
        if self.days:
            first, last = min(self.days), max(self.days)
            parts.append(f"days={first}" + (f"..{last}" if last != first else ""))
        if self.refresh_now:
            parts.append("refresh_now")
        return " ".join(parts) or "all"


def downstream_of(project: Project, refs: Iterable[str]) -> set[str]:
    readers: dict[str, set[str]] = {ref: set() for ref in project.tables}
    for table in project.tables.values():
        for up in table.upstream:
            readers[up].add(table.ref)
    return _closure(refs, readers)


def upstream_of(project: Project, refs: Iterable[str]) -> set[str]:
    return _closure(refs, {ref: set(t.upstream) for ref, t in project.tables.items()})


def _closure(start: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    todo = list(start)
    while todo:
        ref = todo.pop()
        for nxt in edges[ref]:
            if nxt not in found:
                found.add(nxt)
                todo.append(nxt)
    return found


def select(project: Project, selection: Selection = Selection()) -> list[Table]:
    """The selected tables in dependency order, bronze sources restricted to the days asked."""
    refs: set[str] | None = None
    if selection.tables:
        for ref in selection.tables:
            project.table(ref)  # unknown names fail here, listing the known ones
        refs = set(selection.tables)
        if selection.upstream:
            refs |= upstream_of(project, selection.tables)
        if selection.downstream:
            refs |= downstream_of(project, selection.tables)
    tables = project.in_dependency_order(sorted(refs) if refs is not None else None)
    if selection.layers:
        unknown = set(selection.layers) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown layer(s) {sorted(unknown)}; layers are {list(LAYERS)}")
        tables = [t for t in tables if t.layer in selection.layers]
    if selection.days:
        tables = [for_days(t, selection.days) if t.layer == "bronze" else t for t in tables]
    if selection.refresh_now:
        tables = [unscheduled(t) for t in tables]
    return tables


def unscheduled(table: Table) -> Table:
    """The model without its ``refresh_every``: refreshed by this run whatever its schedule."""
    if table.layer != "gold" or not table.spec.refresh_every:
        return table
    return dataclasses.replace(table, spec=dataclasses.replace(table.spec, refresh_every=None))


def days_between(first: date, last: date) -> tuple[date, ...]:
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    if (last - first).days > 366:
        raise ValueError("a backfill covers at most a year at a time")
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def for_days(table: Table, days: Iterable[date]) -> Table:
    """The bronze table restricted to files landed for ``days``: those whose file name carries
    one of the dates (exporters name files ``<feed>_<yyyy-mm-dd>[_suffix].<ext>``).

    Files of other days are not listed at all (``pathGlobFilter``), so they stay unseen by the
    stream's checkpoint and a later run still takes them. A file already ingested is never
    taken again: a backfill adds missing days, it does not reprocess.
    """
    source = table.spec.source
    if source.format in ("kafka", "jdbc"):  # not files: a day's selection does not apply
        return table
    if "pathGlobFilter" in source.options:
        raise ValueError(
            f"{table.file}: source.options.pathGlobFilter is set; it cannot be combined with a date"
        )
    pattern = "*{" + ",".join(sorted(d.isoformat() for d in days)) + "}*"
    options = {**source.options, "pathGlobFilter": pattern}
    spec = dataclasses.replace(table.spec, source=dataclasses.replace(source, options=options))
    return dataclasses.replace(table, spec=spec)


def waves(tables: list[Table]) -> list[list[Table]]:
    """Tables grouped by depth in the selected graph: a wave needs only earlier waves."""
    refs = {t.ref for t in tables}
    depth: dict[str, int] = {}
    for t in tables:  # dependency order, so every upstream has its depth already
        depth[t.ref] = 1 + max((depth[u] for u in t.upstream if u in refs), default=-1)
    out: list[list[Table]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for t in tables:
        out[depth[t.ref]].append(t)
    return out


def format_plan(tables: list[Table], selection: Selection) -> str:
    lines = [f"plan ({selection.describe()}): {len(tables)} tables"]
    number = 0
    for i, wave in enumerate(waves(tables), start=1):
        lines.append(f"wave {i}")
        for t in wave:
            number += 1
            after = ", ".join(u for u in t.upstream if u in {x.ref for x in tables})
            filt = t.spec.source.options.get("pathGlobFilter") if t.layer == "bronze" else None
            note = f"  after {after}" if after else ""
            note += f"  files {filt}" if filt else ""
            every = t.spec.refresh_every if t.layer == "gold" else None
            note += f"  at most every {every}" if every else ""
            lines.append(f"  {number:>3}. {t.ref}{note}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Running


@dataclass(frozen=True)
class TableReport:
    layer: str
    table: str
    rows: int
    version: int | None
    seconds: float
    detail: object
    status: str = runlog.SUCCEEDED
    rows_read: int | None = None
    rows_written: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    rows_quarantined: int | None = None
    error: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.layer}.{self.table}"

    @property
    def note(self) -> str | None:
        """Why a table that succeeded did nothing, when a schedule says so."""
        due = getattr(self.detail, "not_due_until", None)
        return f"not due until {due:%Y-%m-%d %H:%M} UTC" if due else None


class PipelineFailed(RuntimeError):
    """Some tables failed; the others that could run did. ``data_quality`` when every failure
    was a data-quality failure."""

    def __init__(self, reports: list[TableReport]):
        self.reports = reports
        failed = [r for r in reports if r.status in (runlog.FAILED, runlog.DATA_QUALITY_FAILED)]
        self.data_quality = all(r.status == runlog.DATA_QUALITY_FAILED for r in failed)
        skipped = [r.ref for r in reports if r.status == runlog.SKIPPED]
        first = failed[0]
        message = f"{len(failed)} table(s) failed: " + ", ".join(r.ref for r in failed)
        if skipped:
            message += f"; skipped downstream: {', '.join(skipped)}"
        super().__init__(f"{message}\n{first.ref}: {first.error}")


Event = dict[str, Any]


def _commits_since(spark: SparkSession, path: str, after: int | None) -> tuple[int, dict[str, int]]:
    """The table's version now, and the rows written, updated and deleted by the commits after
    version ``after``, from Delta's own operation metrics.

    Reads only the newest commits: the history keeps every commit of the log retention
    (30 days by default), and reading all of it after every table would make each daily
    run pay for the warehouse's age.
    """
    table = DeltaTable.forPath(spark, path)
    limit = 20
    oldest_needed = 0 if after is None else after + 1
    while True:
        commits = table.history(limit).select("version", "operation", "operationMetrics").collect()
        if len(commits) < limit or commits[-1]["version"] <= oldest_needed:
            break
        limit *= 4
    totals = {"read": 0, "written": 0, "updated": 0, "deleted": 0}
    names = {
        "read": ("numSourceRows",),
        "written": ("numOutputRows", "numTargetRowsInserted"),
        "updated": ("numTargetRowsUpdated",),
        "deleted": ("numTargetRowsDeleted", "numDeletedRows"),
    }
    for commit in commits:
        if after is not None and commit["version"] <= after:
            continue
        metrics = commit["operationMetrics"] or {}
        if commit["operation"] == "MERGE":
            metrics = {k: v for k, v in metrics.items() if k != "numOutputRows"}
        for total, keys in names.items():
            totals[total] += sum(int(metrics.get(k, 0) or 0) for k in keys)
    return commits[0]["version"], totals


def _detail_count(detail: object, *names: str) -> int | None:
    for name in names:
        value = getattr(detail, name, None)
        if isinstance(value, int):
            return value
    return None


def refresh_table(spark: SparkSession, project: Project, table: Table, run_id: str) -> TableReport:
    started = time.monotonic()
    path = project.table_path(table)
    before = delta_io.current_version(spark, path)
    detail = REFRESH_BY_LAYER[table.layer](spark, project, table, run_id)
    exists = delta_io.exists(spark, path)
    version, metrics = _commits_since(spark, path, before) if exists else (None, {})
    return TableReport(
        layer=table.layer,
        table=table.name,
        rows=spark.read.format("delta").load(path).count() if exists else 0,
        version=version,
        seconds=time.monotonic() - started,
        detail=detail,
        # Bronze reads what it appends; further up, what the stream took in from the upstream
        # table (before dedup and rejects), else what the MERGEs were given.
        rows_read=metrics.get("written")
        if table.layer == "bronze"
        else _detail_count(detail, "rows_read") or metrics.get("read"),
        rows_written=metrics.get("written"),
        rows_updated=metrics.get("updated"),
        rows_deleted=metrics.get("deleted"),
        rows_quarantined=_detail_count(detail, "rows_quarantined", "rows_rejected"),
    )


def _failed_report(table: Table, seconds: float, exc: BaseException) -> TableReport:
    dq = is_data_quality_failure(exc)
    return TableReport(
        layer=table.layer,
        table=table.name,
        rows=0,
        version=None,
        seconds=seconds,
        detail=None,
        status=runlog.DATA_QUALITY_FAILED if dq else runlog.FAILED,
        error=_short_error(exc),
    )


def _short_error(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    # Py4J wraps the useful line deep inside a Java trace: keep the first lines that say what.
    return "\n".join(text.splitlines()[:12])


def run(
    spark: SparkSession,
    project: Project,
    run_id: str,
    layers: tuple[str, ...] | None = None,
    on_table: Callable[[TableReport], None] | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    tables: list[Table] | None = None,
    on_event: Callable[[Event], None] | None = None,
    log: runlog.RunLog | None = None,
    before_table: Callable[[], None] | None = None,
) -> list[TableReport]:
    """Refresh the selected tables, each as soon as everything it reads is done.

    Independent tables run side by side: most of a small table's time is the driver waiting
    on Delta's log and the stream's start-up, not the cores. A failed table stops only what
    reads from it; the rest finishes, then PipelineFailed names what failed and was skipped.
    """
    if tables is None:
        tables = select(project, Selection(layers=tuple(layers or ())))
    selected_refs = {t.ref for t in tables}
    waiting = {t.ref: {u for u in t.upstream if u in selected_refs} for t in tables}
    emit = on_event or (lambda event: None)
    reports: list[TableReport] = []
    started_at: dict[str, Any] = {}

    def finish(table: Table, report: TableReport) -> None:
        reports.append(report)
        if log is not None:
            log.append(
                runlog.LogEntry(
                    run_id=run_id,
                    job="pipeline",
                    status=report.status,
                    table=table.ref,
                    layer=table.layer,
                    started_at=started_at.get(table.ref, runlog.now()),
                    ended_at=runlog.now(),
                    seconds=report.seconds,
                    rows_read=report.rows_read,
                    rows_written=report.rows_written,
                    rows_updated=report.rows_updated,
                    rows_deleted=report.rows_deleted,
                    rows_quarantined=report.rows_quarantined,
                    version=report.version,
                    error=report.error,
                    detail=report.note,
                )
            )
        emit({"event": "table_" + report.status, "table": table.ref, **_numbers(report)})
        if on_table and report.status == runlog.SUCCEEDED:
            on_table(report)

    def attempt(table: Table) -> TableReport:
        t0 = time.monotonic()
        try:
            if before_table:
                before_table()
            return refresh_table(spark, project, table, run_id)
        except Exception as exc:
            return _failed_report(table, time.monotonic() - t0, exc)

    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="refresh") as pool:
        running: dict[Future[TableReport], Table] = {}
        while waiting or running:
            for table in tables:
                if table.ref in waiting and not waiting[table.ref]:
                    del waiting[table.ref]
                    started_at[table.ref] = runlog.now()
                    emit({"event": "table_started", "table": table.ref})
                    running[pool.submit(attempt, table)] = table
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                table = running.pop(future)
                report = future.result()
                finish(table, report)
                if report.status != runlog.SUCCEEDED:
                    for ref in sorted(downstream_of(project, [table.ref]) & set(waiting)):
                        del waiting[ref]
                        skipped = project.table(ref)
                        finish(
                            skipped,
                            TableReport(
                                layer=skipped.layer,
                                table=skipped.name,
                                rows=0,
                                version=None,
                                seconds=0.0,
                                detail=None,
                                status=runlog.SKIPPED,
                                error=f"not run: {table.ref} failed",
                            ),
                        )
                for upstream in waiting.values():
                    upstream.discard(table.ref)
    order = {t.ref: i for i, t in enumerate(tables)}
    reports.sort(key=lambda r: order[r.ref])
    if any(r.status != runlog.SUCCEEDED for r in reports):
        raise PipelineFailed(reports)
    return reports


def _numbers(report: TableReport) -> dict[str, Any]:
    keys = ("rows", "rows_read", "rows_written", "rows_updated", "rows_quarantined", "version")
    out: dict[str, Any] = {k: getattr(report, k) for k in keys}
    out["seconds"] = round(report.seconds, 2)
    if report.error:
        out["error"] = report.error
    if report.note:
        out["note"] = report.note
    return out


# ---------------------------------------------------------------------------------------------
# Reporting


def console_progress(out: TextIO = sys.stdout) -> Callable[[Event], None]:
    """One line per table as it starts and ends, for people watching a long run."""

    def show(event: Event) -> None:
        kind, ref = event["event"], event.get("table", "")
        if kind == "table_started":
            line = f"  .. {ref}"
        elif kind == "table_succeeded":
            line = (
                f"  ok {ref}: read {_n(event['rows_read'])}, wrote {_n(event['rows_written'])}, "
                f"updated {_n(event['rows_updated'])}"
                + (
                    f", quarantined {event['rows_quarantined']}"
                    if event.get("rows_quarantined")
                    else ""
                )
                + f" -> {event['rows']} rows, v{event['version']} ({event['seconds']:.1f}s)"
                + (f", {event['note']}" if event.get("note") else "")
            )
        elif kind in ("table_failed", "table_data_quality_failed"):
            first = (event.get("error") or "").splitlines()[0:1]
            line = f"  !! {ref} {kind.removeprefix('table_')}: {first[0] if first else ''}"
        elif kind == "table_skipped":
            line = f"  -- {ref} skipped ({event.get('error')})"
        else:
            line = "  " + " ".join(f"{k}={v}" for k, v in event.items())
        print(line, file=out, flush=True)

    return show


def _n(value: object) -> str:
    return "-" if value is None else str(value)


def json_progress(out: TextIO = sys.stdout) -> Callable[[Event], None]:
    """One JSON object per line, for machines (log shippers, orchestrators)."""

    def show(event: Event) -> None:
        print(json.dumps({"ts": runlog.now().isoformat() + "Z", **event}, default=str), file=out)
        out.flush()

    return show


def format_reports(reports: list[TableReport]) -> str:
    header = (
        f"{'layer':<7} {'table':<24} {'status':<10} {'rows':>10} {'written':>8} "
        f"{'updated':>8} {'version':>8} {'seconds':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in reports:
        version = "-" if r.version is None else str(r.version)
        lines.append(
            f"{r.layer:<7} {r.table:<24} {r.status[:10]:<10} {r.rows:>10} "
            f"{_n(r.rows_written):>8} {_n(r.rows_updated):>8} {version:>8} {r.seconds:>8.1f}"
            + (f"  {r.note}" if r.note else "")
        )
    return "\n".join(lines)
