"""Bronze from a database table (or query) over JDBC, read incrementally by a watermark.

Where the last run stopped is kept in the bronze commit that landed its rows (the commit's
``userMetadata``), so the rows and the watermark are committed together: a crash before the
commit re-reads, a crash after it finds the new watermark. Rows committed late, below the
greatest watermark read, are read again within ``lookback``; silver deduplicates them by key.
Deletes are seen either as a soft-delete column (silver's ``deleted_when``) or by comparing
keys now and then: a key gone from the source lands as a row with ``_source_deleted`` true.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StructField, StructType

from lakehouse.bronze.columns import LINEAGE_SCHEMA
from lakehouse.bronze.files import declared_schema, with_run
from lakehouse.config import ConfigError, Project, Table, secrets
from lakehouse.config.connectors import JdbcSource
from lakehouse.config.tables import parse_interval
from lakehouse.context import RunContext
from lakehouse.errors import SourceUnavailable
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import delta_log, delta_tables

log = logging.getLogger(__name__)

DELETED = "_source_deleted"
_HOST_PORT = re.compile(r"^jdbc:[a-z0-9]+://\[?([^/:?\]]+)\]?(?::(\d+))?", re.I)
_DRIVERS = {"postgresql": "org.postgresql.Driver"}
_TIME_TEXT = "%Y-%m-%d %H:%M:%S.%f"


def bronze_schema(table: Table) -> StructType:
    return StructType(
        [
            *declared_schema(table.spec.source).fields,
            StructField(DELETED, BooleanType(), True),
            *LINEAGE_SCHEMA.fields,
        ]
    )


def where(jdbc: JdbcSource) -> str:
    """host:port of the url, for messages (never the credentials)."""
    match = _HOST_PORT.match(jdbc.url)
    return f"{match[1]}:{match[2] or 'default port'}" if match else jdbc.url.split("?")[0]


def source_name(jdbc: JdbcSource) -> str:
    return f"{jdbc.url.split('?')[0]}/{jdbc.table or 'query'}"


# --- where the last run stopped ------------------------------------------------------------


@dataclass(frozen=True)
class ReadState:
    watermark: str | None  # the greatest watermark read, as text (ISO timestamp or number)
    window_rows: int  # rows read with a watermark inside the lookback below it
    compared_at: str | None  # when keys were last compared (ISO, UTC)

    def to_json(self) -> str:
        return json.dumps({"jdbc": self.__dict__})


def last_state(spark: SparkSession, path: str) -> ReadState | None:
    """The state the last landing commit carried (maintenance commits carry none)."""
    for commit in delta_log.latest_commits(spark, path):
        try:
            state = json.loads(commit.user_metadata or "").get("jdbc")
        except (ValueError, AttributeError):
            continue
        if state is not None:
            return ReadState(**state)
    return None


# --- the watermark's kind ------------------------------------------------------------------


@dataclass(frozen=True)
class Watermark:
    column: str
    is_time: bool
    lookback: timedelta | int

    def literal(self, value: str) -> str:
        return f"TIMESTAMP '{value}'" if self.is_time else str(int(value))

    def lower(self, value: str) -> str:
        """The lowest watermark read again: ``value`` minus the lookback."""
        if self.is_time:
            return (datetime.fromisoformat(value) - self.lookback).isoformat(sep=" ")
        return str(int(value) - int(self.lookback))

    def text(self, value: object) -> str:
        # One spelling for the database's value and Spark's: wall clock to the microsecond.
        return value.strftime(_TIME_TEXT) if isinstance(value, datetime) else str(value)


def watermark_of(table: Table) -> Watermark | None:
    jdbc = table.spec.source.jdbc
    if not jdbc.watermark:
        return None
    column = table.spec.source.schema.get(jdbc.watermark)
    if column is None:
        raise ConfigError(
            table.file, "source.jdbc.watermark", f"{jdbc.watermark!r} is not in schema"
        )
    is_time = column.type.lower() in ("timestamp", "timestamp_ntz", "date")
    try:
        lookback = parse_interval(jdbc.lookback) if is_time else int(jdbc.lookback)
    except ValueError:
        if is_time and jdbc.lookback.strip() == "0":
            lookback = timedelta(0)
        else:
            kind = "an interval ('10 minutes')" if is_time else "a whole number"
            raise ConfigError(
                table.file, "source.jdbc.lookback", f"expected {kind}, got {jdbc.lookback!r}"
            ) from None
    return Watermark(jdbc.watermark, is_time, lookback)


# --- reading -------------------------------------------------------------------------------


def connection_options(table: Table) -> dict[str, str]:
    jdbc = table.spec.source.jdbc
    # A timestamp without time zone is read as the wall clock it is (TIMESTAMP_NTZ), so the
    # watermark sent back to the database is the same text, whatever the JVM's time zone.
    options = {
        "url": jdbc.url,
        "fetchsize": str(jdbc.fetch_size),
        "preferTimestampNTZ": "true",
        **jdbc.options,
    }
    kind = jdbc.url.split(":")[1]
    if "driver" not in options and kind in _DRIVERS:
        options["driver"] = _DRIVERS[kind]
    options.update(secrets.resolve(jdbc.secrets, table.ref))
    return options


def _select(jdbc: JdbcSource, condition: str = "") -> str:
    base = f"SELECT * FROM {jdbc.table}" if jdbc.table else f"SELECT * FROM ({jdbc.query}) q"
    return f"{base} WHERE {condition}" if condition else base


def _read(spark: SparkSession, table: Table, sql: str, **extra: str) -> DataFrame:
    return (
        spark.read.format("jdbc")
        .options(**connection_options(table))
        .option("dbtable", f"({sql}) src")
        .options(**extra)
        .load()
    )


def _unavailable(table: Table, exc: Exception) -> Exception:
    text = str(exc)
    if any(s in text for s in ("Connection refused", "connection attempt failed", "UnknownHost")):
        first = next((ln for ln in text.splitlines() if "Connection" in ln), text.splitlines()[0])
        return SourceUnavailable(
            f"{table.ref}: cannot reach the database at {where(table.spec.source.jdbc)} "
            f"({first.strip()[:200]})"
        )
    return exc


def probe(
    spark: SparkSession,
    table: Table,
    mark: Watermark,
    window_lower: str | None,
    above: str | None = None,
    upto: str | None = None,
):
    """The greatest watermark (above ``above``, up to ``upto``), and how many of those rows
    lie above ``window_lower``."""
    jdbc = table.spec.source.jdbc
    bounds = []
    if above is not None:
        bounds.append(f"{mark.column} > {mark.literal(above)}")
    if upto is not None:
        bounds.append(f"{mark.column} <= {mark.literal(upto)}")
    inner = _select(jdbc, " AND ".join(bounds))
    above = f"{mark.column} > {mark.literal(window_lower)}" if window_lower else "TRUE"
    sql = (
        f"SELECT max({mark.column}) AS hi, count(CASE WHEN {above} THEN 1 END) AS n "
        f"FROM ({inner}) p"
    )
    row = _read(spark, table, sql).first()
    return (mark.text(row.hi) if row.hi is not None else None), int(row.n)


def has_new(spark: SparkSession, table: Table, state: ReadState | None) -> bool:
    """False only when the watermark and the rows inside the lookback are as last read."""
    mark = watermark_of(table)
    if mark is None or state is None or state.watermark is None or _compare_due(table, state):
        return True
    hi, rows = probe(spark, table, mark, mark.lower(state.watermark))
    return (hi, rows) != (state.watermark, state.window_rows)


def _compare_due(table: Table, state: ReadState | None) -> bool:
    jdbc = table.spec.source.jdbc
    if not jdbc.compare_keys:
        return False
    if state is None or state.compared_at is None:
        return True
    last = datetime.fromisoformat(state.compared_at)
    return datetime.now(UTC) - last >= parse_interval(jdbc.compare_every)


def _partitioning(spark: SparkSession, table: Table, sql: str) -> dict[str, str]:
    jdbc = table.spec.source.jdbc
    if jdbc.num_partitions <= 1:
        return {}
    col = jdbc.partition_column
    bounds = _read(
        spark, table, f"SELECT min({col}) AS lo, max({col}) AS hi FROM ({sql}) b"
    ).first()
    if bounds.lo is None:
        return {}
    return {
        "partitionColumn": col,
        "lowerBound": str(bounds.lo),
        "upperBound": str(bounds.hi),
        "numPartitions": str(jdbc.num_partitions),
    }


def _typed(df: DataFrame, table: Table) -> DataFrame:
    declared = declared_schema(table.spec.source)
    found = {c.lower(): c for c in df.columns}
    missing = [f.name for f in declared.fields if f.name.lower() not in found]
    if missing:
        raise ValueError(
            f"{table.ref}: {source_name(table.spec.source.jdbc)} has no column(s) {missing} "
            f"(it has {sorted(df.columns)})"
        )
    return df.select(
        *(F.col(found[f.name.lower()]).cast(f.dataType).alias(f.name) for f in declared.fields)
    )


def _with_lineage(rows: DataFrame, table: Table, mark: Watermark | None, deleted: bool):
    modified = F.col(mark.column).cast("timestamp") if mark and mark.is_time else F.lit(None)
    return rows.select(
        *rows.columns,
        F.lit(deleted).alias(DELETED),
        F.lit(source_name(table.spec.source.jdbc)).alias("_source_file"),
        modified.cast("timestamp").alias("_source_modified_at"),
        F.lit(None).cast("long").alias("_source_offset"),
        F.monotonically_increasing_id().alias("_source_row"),
    )


def _gone_keys(spark: SparkSession, table: Table, target: str, mark: Watermark | None):
    """Rows for the keys landed (and not deleted) that the source no longer has."""
    keys = list(table.spec.source.jdbc.compare_keys)
    source_keys = _read(
        spark,
        table,
        f"SELECT DISTINCT {', '.join(keys)} FROM ({_select(table.spec.source.jdbc)}) k",
    )
    landed = spark.read.format("delta").load(target)
    order = [F.col("_ingested_at").desc(), F.col("_source_row").desc()]
    latest = (
        landed.withColumn("_r", F.row_number().over(Window.partitionBy(*keys).orderBy(*order)))
        .where("_r = 1 AND NOT coalesce(_source_deleted, false)")
        .select(*keys)
    )
    gone = latest.join(source_keys.select(*keys), keys, "left_anti")
    declared = declared_schema(table.spec.source)
    columns = []
    for f in declared.fields:
        if f.name in keys:
            columns.append(F.col(f.name).cast(f.dataType).alias(f.name))
        elif mark and f.name == mark.column and mark.is_time:
            # The delete's version: newer than any row landed for the key.
            columns.append(F.current_timestamp().cast(f.dataType).alias(f.name))
        else:
            columns.append(F.lit(None).cast(f.dataType).alias(f.name))
    return gone.select(*columns)


def ingest(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    """Append the rows changed since the last run (and tombstones of deleted keys)."""
    jdbc = table.spec.source.jdbc
    target = project.table_path(table)
    delta_tables.ensure_table(
        spark, target, bronze_schema(table), table.spec.partition_by, table.spec.table_properties
    )
    state = last_state(spark, target)
    mark = watermark_of(table)
    try:
        return _ingest(spark, table, target, ctx.run_id, state, mark)
    except Exception as exc:
        error = _unavailable(table, exc)
        if error is exc:
            raise
        raise error from None
    finally:
        log.debug("%s: read %s", table.ref, source_name(jdbc))


def _ingest(spark, table, target, run_id, state, mark) -> RefreshResult:
    if not has_new(spark, table, state):
        return RefreshResult(table.ref, Status.UP_TO_DATE, rows_read=0)
    jdbc = table.spec.source.jdbc
    new_state, condition = _plan(spark, table, mark, state)
    sql = _select(jdbc, condition)
    rows = _typed(_read(spark, table, sql, **_partitioning(spark, table, sql)), table)
    batch = _with_lineage(rows, table, mark, deleted=False)
    if _compare_due(table, state):
        gone = _gone_keys(spark, table, target, mark)
        batch = batch.unionByName(_with_lineage(gone, table, mark, deleted=True))
    (
        with_run(batch, run_id)
        .select(*bronze_schema(table).fieldNames())
        .write.format("delta")
        .mode("append")
        .option("userMetadata", new_state.to_json())
        .save(target)
    )
    return RefreshResult(table.ref, rows_read=delta_log.last_commit_rows(spark, target))


def _plan(spark, table: Table, mark: Watermark | None, state) -> tuple[ReadState, str]:
    """What this run reads (a range of the watermark) and the state it will leave.

    The range's top is the source's greatest watermark now, asked first, so the rows are
    read in one pass and the state is exact: a row committed during the read with a greater
    watermark is read next time."""
    compared = (
        datetime.now(UTC).isoformat()
        if _compare_due(table, state)
        else (state.compared_at if state else None)
    )
    if mark is None:
        return ReadState(None, 0, compared), ""
    lower = mark.lower(state.watermark) if state and state.watermark else None
    hi, _ = probe(spark, table, mark, None, above=lower)
    if hi is None:  # nothing above the lower bound: the watermark stays
        return ReadState(state.watermark if state else None, 0, compared), "FALSE"
    window = mark.lower(hi)
    _, in_window = probe(spark, table, mark, window, upto=hi)
    condition = f"{mark.column} <= {mark.literal(hi)}"
    if lower:
        condition = f"{mark.column} > {mark.literal(lower)} AND {condition}"
    return ReadState(hi, in_window, compared), condition
