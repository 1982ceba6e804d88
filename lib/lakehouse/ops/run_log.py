"""The run log: a Delta table under the warehouse root with one row per run and per table.

Rows are only ever appended (concurrent blind appends never conflict in Delta): a run writes a
``running`` row when it starts and its final row when it ends; each table writes one row when
it is done. The current state of a run or table is its latest row, so a run killed half-way
stays visible as ``running`` until the next run, taking over its lock, marks it ``abandoned``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from delta.tables import DeltaTable
from deltalake import write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaProtocolError
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import (
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.config import Project
from lakehouse.config.settings import S3Spec
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import delta_log, object_store

RUNNING, SUCCEEDED, FAILED, DATA_QUALITY_FAILED, SKIPPED, ABANDONED = (
    Status.RUNNING.value,
    Status.SUCCEEDED.value,
    Status.FAILED.value,
    Status.DATA_QUALITY_FAILED.value,
    Status.SKIPPED.value,
    Status.ABANDONED.value,
)
# A table that ended well, whether or not it had work.
OK = (Status.SUCCEEDED.value, Status.UP_TO_DATE.value, Status.NOT_DUE.value)


@dataclass(frozen=True)
class LogEntry:
    run_id: str
    job: str
    status: str
    started_at: datetime
    table: str | None = None  # None: the row describes the whole run
    layer: str | None = None
    ended_at: datetime | None = None
    seconds: float | None = None
    rows_read: int | None = None
    rows_written: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    rows_quarantined: int | None = None
    version: int | None = None
    error: str | None = None
    detail: str | None = None
    host: str = socket.gethostname()


class Pending:
    """Run-log rows held back until something worth a commit happens: each append is a Delta
    commit, and a run whose tables were all up to date should make one, not one per table."""

    def __init__(self, log: RunLog):
        self.log = log
        self.rows: list[LogEntry] = []

    def add(self, *entries: LogEntry, flush: bool = False) -> None:
        self.rows.extend(entries)
        if flush:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.log.append(*self.rows)
            self.rows.clear()

    def recorder(
        self, run_id: str, job: str = "pipeline"
    ) -> Callable[[RefreshResult, datetime | None], None]:
        """What a pipeline run calls as each table ends: its row, committed at once when the
        table did something, else with the next row that is (or the run's end)."""

        def record(report: RefreshResult, started_at: datetime | None) -> None:
            entry = table_entry(run_id, job, report, started_at)
            self.add(entry, flush=report.status not in (Status.UP_TO_DATE, Status.NOT_DUE))

        return record


def table_entry(
    run_id: str, job: str, result: RefreshResult, started_at: datetime | None
) -> LogEntry:
    """The run log's row for one table's refresh."""
    return LogEntry(
        run_id=run_id,
        job=job,
        status=result.status.value,
        table=result.ref,
        layer=result.layer,
        started_at=started_at or now(),
        ended_at=now(),
        seconds=result.seconds,
        rows_read=result.rows_read,
        rows_written=result.rows_written,
        rows_updated=result.rows_updated,
        rows_deleted=result.rows_deleted,
        rows_quarantined=result.rows_quarantined,
        version=result.version,
        error=result.error,
        detail="; ".join(filter(None, (_how(result), result.note, *result.warnings[:20]))) or None,
    )


def _how(result: RefreshResult) -> str | None:
    """A gold refresh's strategy, why, and the Spark jobs it ran."""
    parts = []
    if result.strategy:
        parts.append(f"{result.strategy}: {result.plan}" if result.plan else result.strategy)
    if result.spark_jobs is not None:
        parts.append(f"{result.spark_jobs} Spark jobs")
    return ", ".join(parts) or None


_TYPES = {
    "started_at": TimestampType(),
    "ended_at": TimestampType(),
    "seconds": DoubleType(),
    "version": LongType(),
}
SCHEMA = StructType(
    [
        StructField(
            f.name,
            _TYPES.get(f.name, LongType() if f.name.startswith("rows_") else StringType()),
            True,
        )
        for f in fields(LogEntry)
    ]
    + [StructField("logged_at", TimestampType(), True)]
)

# The same columns for delta-rs (Spark's timestamps are UTC instants in Arrow too).
ARROW_SCHEMA = to_arrow_schema(SCHEMA)
ERROR_CHARS = 4000  # a Java stack trace can be huge; the head says what failed


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class RunLog:
    def __init__(self, spark: SparkSession, path: str, s3: S3Spec | None = None):
        self.spark, self.path = spark, path
        self.s3 = s3 or S3Spec()

    def ensure(self) -> None:
        # Partitioned by nothing: a few rows per run; the maintenance job compacts it.
        if delta_log.latest_version(self.spark, self.path) is None:  # a listing, not a job
            DeltaTable.createIfNotExists(self.spark).location(self.path).addColumns(
                SCHEMA
            ).execute()

    def append(self, *entries: LogEntry) -> None:
        # In the order given, a microsecond apart: a run's final row, committed with its
        # running row, must be the latest of the two.
        stamp = now()
        rows = [
            {
                **{f.name: getattr(e, f.name) for f in fields(LogEntry)},
                "error": e.error[:ERROR_CHARS] if e.error else e.error,
                "logged_at": stamp + timedelta(microseconds=i),
            }
            for i, e in enumerate(entries)
        ]
        if object_store.is_local(self.path) or object_store.is_s3(self.path):
            # A few rows need no Spark job: delta-rs commits them in milliseconds, where
            # Spark's first Delta write in a JVM takes seconds (most of a run with nothing to
            # do). On S3 delta-rs commits with a conditional put, so it never overwrites a
            # commit of Spark's. The table, its log and its readers are Spark's.
            arrow = pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)
            location, options = object_store.delta_rs_location(self.path, self.s3)
            try:
                write_deltalake(location, arrow, mode="append", storage_options=options or None)
                return
            except (CommitFailedError, DeltaProtocolError):
                pass  # a table feature delta-rs cannot write (type widening ...): Spark can
        self.spark.createDataFrame(
            [tuple(r[f.name] for f in SCHEMA.fields) for r in rows], SCHEMA
        ).write.format("delta").mode("append").save(self.path)

    def exists(self) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.path)

    def latest(self) -> DataFrame:
        """Each run's and table's current row."""
        rows = self.spark.read.format("delta").load(self.path)
        key = [F.col("run_id"), F.coalesce(F.col("table"), F.lit(""))]
        window = Window.partitionBy(*key).orderBy(F.col("logged_at").desc())
        return rows.withColumn("_n", F.row_number().over(window)).where("_n = 1").drop("_n")

    def last_runs(self, limit: int = 10, job: str | None = None) -> list[dict]:
        latest = self.latest()
        runs = latest.where(F.col("table").isNull())
        if job:
            runs = runs.where(F.col("job") == job)
        tables = (
            latest.where(F.col("table").isNotNull())
            .groupBy("run_id")
            .agg(
                F.count("*").alias("tables"),
                F.sum(F.when(F.col("status").isin(*OK), 0).otherwise(1)).alias("not_ok"),
                F.sum("rows_written").alias("rows_written"),
                F.sum("rows_updated").alias("rows_updated"),
            )
        )
        rows = (
            runs.join(tables, "run_id", "left")
            .orderBy(F.col("started_at").desc())
            .limit(limit)
            .collect()
        )
        return [r.asDict() for r in rows]

    def tables_of(self, run_id: str) -> list[dict]:
        rows = (
            self.latest()
            .where((F.col("run_id") == run_id) & F.col("table").isNotNull())
            .orderBy("started_at", "table")
            .collect()
        )
        return [r.asDict() for r in rows]

    def running_tables(self, run_id: str) -> list[str]:
        return [r["table"] for r in self.tables_of(run_id) if r["status"] == RUNNING]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float):
        return f"{value:.1f}"
    lines = str(value).splitlines() or [""]
    return lines[0] if len(lines[0]) <= 80 else lines[0][:77] + "..."


def format_table(rows: list[dict], columns: list[str]) -> str:
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


RUN_COLUMNS = [
    "run_id",
    "job",
    "status",
    "started_at",
    "seconds",
    "tables",
    "not_ok",
    "rows_written",
    "rows_updated",
    "detail",
]
TABLE_COLUMNS = [
    "table",
    "status",
    "started_at",
    "seconds",
    "rows_read",
    "rows_written",
    "rows_updated",
    "rows_deleted",
    "rows_quarantined",
    "version",
    "error",
]


def run_log_path(project: Project) -> str:
    return f"{project.root}/{project.settings.operations.run_log}"


def of(spark: SparkSession, project: Project) -> RunLog:
    """The project's run log, reachable by delta-rs wherever the root is."""
    return RunLog(spark, run_log_path(project), project.settings.storage.s3)
