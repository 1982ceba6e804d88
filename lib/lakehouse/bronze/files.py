"""Bronze: land every dropped file once, as it arrived, with where and when it came from."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse.bronze import contracts
from lakehouse.bronze.columns import (
    CORRUPT_RECORD,
    LINEAGE_SCHEMA,
    RESCUED_DATA,
    SYSTEM_COLUMNS,
    struct_from_columns,
)
from lakehouse.bronze.contracts import Drift
from lakehouse.config import Project, Table
from lakehouse.config.tables import SourceSpec
from lakehouse.context import RunContext
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import delta_log, delta_tables, exactly_once, fingerprint, hadoop_fs

log = logging.getLogger(__name__)

_READER_DEFAULTS = {
    "csv": {"header": "true", "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
    "json": {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
    "parquet": {},
}

# The listing stream only needs names and times; binaryFile skips a file's bytes unless the
# `content` column is asked for.
_LISTING_SCHEMA = "path string, modificationTime timestamp, length long, content binary"


def declared_schema(source: SourceSpec) -> StructType:
    return struct_from_columns(source.schema)


def source_schema(source: SourceSpec) -> StructType:
    """The declared columns, plus the column that keeps a malformed line's raw text."""
    schema = declared_schema(source)
    if source.format in ("csv", "json"):
        schema = schema.add(CORRUPT_RECORD, StringType(), True)
    return schema


def bronze_schema(source: SourceSpec) -> StructType:
    return StructType(
        [
            *source_schema(source).fields,
            StructField(RESCUED_DATA, StringType(), True),
            *LINEAGE_SCHEMA.fields,
        ]
    )


def reader_options(source: SourceSpec) -> dict[str, str]:
    return {**_READER_DEFAULTS[source.format], **source.options}


def file_lineage() -> list[Column]:
    """Where each row came from: the file source's hidden ``_metadata``."""
    return [
        F.col("_metadata.file_path").alias("_source_file"),
        F.col("_metadata.file_modification_time").alias("_source_modified_at"),
        F.col("_metadata.file_block_start").alias("_source_offset"),
    ]


def with_run(df: DataFrame, run_id: str) -> DataFrame:
    return df.withColumn("_ingested_at", F.current_timestamp()).withColumn("_run_id", F.lit(run_id))


def with_row_order(batch: DataFrame) -> DataFrame:
    """Number rows in read order; within one split of a file that is line order."""
    return batch.withColumn("_source_row", F.monotonically_increasing_id())


# --- reading a batch of landed files under the contract -----------------------------------


@dataclass(frozen=True)
class LandedBatch:
    rows: DataFrame | None
    drifts: list[Drift] = field(default_factory=list)


def _escape_glob(path: str) -> str:
    # Explicit file paths are still globbed by Spark; a name with [ or { must stay literal.
    return "".join("\\" + c if c in "[]{}*?\\" else c for c in path)


def _load(
    spark: SparkSession, source: SourceSpec, schema: StructType, files: list[str]
) -> DataFrame:
    df = (
        spark.read.format(source.format)
        .schema(schema)
        .options(**reader_options(source))
        .load([_escape_glob(f) for f in files])
    )
    return df.select("*", *file_lineage())


def _keep(source: SourceSpec) -> tuple[str, ...]:
    corrupt = (CORRUPT_RECORD,) if source.format in ("csv", "json") else ()
    return (*corrupt, "_source_file", "_source_modified_at", "_source_offset")


def read_landed(
    spark: SparkSession, source: SourceSpec, files: list[str], expected: StructType
) -> LandedBatch:
    """The rows of ``files`` in the contract's shape, each file read by its own columns.

    ``expected`` is the declared schema (plus, under ``evolve``, columns evolved earlier).
    """
    policy = source.on_schema_change
    options = reader_options(source)
    groups: dict[tuple, tuple[StructType, Drift, list[str]]] = {}
    drifts: list[Drift] = []

    def group(file: str, found: StructType, typed: bool) -> None:
        drift = contracts.compare(expected, found, file, typed)
        drifts.append(drift)
        signature = (found.json(), drift.added, drift.missing, drift.changed)
        groups.setdefault(signature, (found, drift, []))[2].append(file)

    if source.format == "csv":
        for file in files:
            names = contracts.csv_file_columns(spark, file, options)
            if names:  # an empty file has no header and no rows
                group(file, contracts.string_schema(names, expected), typed=False)
    elif source.format == "json":
        for file, keys in contracts.json_file_keys(spark, files).items():
            extra = sorted(keys - set(expected.fieldNames()))
            found = StructType(
                [f for f in expected.fields if f.name in keys]
                + [StructField(k, StringType(), True) for k in extra]
            )
            group(file, found, typed=False)
    else:
        for file in files:
            group(file, contracts.parquet_file_schema(spark, file), typed=True)

    frames = []
    for found, drift, group_files in groups.values():
        read_schema = found
        if source.format in ("csv", "json"):
            # Every declared column is asked for: a JSON key absent from a file reads as null.
            if source.format == "json":
                names = {f.name for f in found.fields}
                read_schema = StructType(
                    found.fields + [f for f in expected.fields if f.name not in names]
                )
            read_schema = read_schema.add(CORRUPT_RECORD, StringType(), True)
        df = _load(spark, source, read_schema, group_files)
        frames.append(contracts.conform(df, expected, drift, policy, keep=_keep(source)))
    rows = (
        reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames) if frames else None
    )
    return LandedBatch(rows, drifts)


def expected_columns(source: SourceSpec, table_schema: StructType) -> StructType:
    """The contract a file is checked against: the declared columns, and under ``evolve`` the
    columns earlier files added to the table."""
    expected = declared_schema(source)
    if source.on_schema_change == "evolve":
        known = set(expected.fieldNames()) | set(SYSTEM_COLUMNS)
        for f in table_schema.fields:
            if f.name not in known:
                expected = expected.add(f)
    return expected


# --- the stream -----------------------------------------------------------------------------


def apply_table_properties(spark: SparkSession, path: str, properties: dict[str, str]) -> None:
    """Bring the table's properties to what the YAML declares (new files follow them)."""
    if not properties:
        return
    current = DeltaTable.forPath(spark, path).detail().first()["properties"] or {}
    wanted = {k: v for k, v in properties.items() if current.get(k) != v}
    if wanted:
        pairs = ", ".join(f"'{k}' = '{v}'" for k, v in wanted.items())
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({pairs})")


def listing_options(table: Table, days: tuple[date, ...]) -> dict[str, str]:
    """The source's reader options, restricted to the files landed for ``days``: those whose
    name carries one of the dates (exporters name files ``<feed>_<yyyy-mm-dd>[_suffix].<ext>``).

    Files of other days are not listed at all (``pathGlobFilter``), so they stay unseen by the
    stream's checkpoint and a later run still takes them. A file already ingested is never
    taken again: a backfill adds missing days, it does not reprocess.
    """
    source = table.spec.source
    if not days or source.format in ("kafka", "jdbc"):  # not files: a day does not apply
        return dict(source.options)
    if "pathGlobFilter" in source.options:
        raise ValueError(
            f"{table.file}: source.options.pathGlobFilter is set; it cannot be combined with a date"
        )
    pattern = "*{" + ",".join(sorted(d.isoformat() for d in days)) + "}*"
    return {**source.options, "pathGlobFilter": pattern}


def ingest(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    """Append the rows of every landed file not ingested before; a file is never ingested
    twice, even when a run is killed and started again.

    The stream only lists files: its checkpoint remembers which were taken. Each batch's files
    are then read one header (or footer) at a time under the contract, and appended with Delta
    transaction ids, so a batch replayed after a crash is not appended twice.

    Example::

        result = ingest(spark, project, project.table("bronze.orders"), ctx)
        result.files, result.rows_read
    """
    source = table.spec.source
    target = project.table_path(table)
    observed = fingerprint.observe_landing(
        spark, project.landing_path(table), listing_options(table, ctx.days)
    )
    if fingerprint.up_to_date(spark, project, table, observed):
        return RefreshResult(table.ref, Status.UP_TO_DATE, files=0, rows_read=0)
    delta_tables.ensure_table(
        spark, target, bronze_schema(source), table.spec.partition_by, table.spec.table_properties
    )
    apply_table_properties(spark, target, table.spec.table_properties)

    landing = project.landing_path(table)
    if not hadoop_fs.exists(spark, landing):
        fingerprint.record(spark, project, table, observed)
        return RefreshResult(table.ref, files=0)

    listing = (
        spark.readStream.format("binaryFile")
        .schema(_LISTING_SCHEMA)
        .options(**listing_options(table, ctx.days))
        .load(landing)
        .select("path")
    )
    taken = {"files": 0, "rows": 0}
    drifts: list[Drift] = []

    def append(batch: DataFrame, batch_id: int) -> None:
        session = batch.sparkSession
        files = sorted(r.path for r in batch.collect())
        table_schema = session.read.format("delta").load(target).schema
        landed = read_landed(session, source, files, expected_columns(source, table_schema))
        contracts.check(table.ref, source.on_schema_change, landed.drifts, SYSTEM_COLUMNS)
        _warn_drifts(table.ref, source.on_schema_change, landed.drifts)
        taken["files"] += len(files)
        drifts.extend(d for d in landed.drifts if d)
        if landed.rows is None:
            return
        rows = with_row_order(with_run(landed.rows, ctx.run_id))
        new_columns = set(rows.columns) - set(table_schema.fieldNames())
        writer = rows.write.format("delta").mode("append")
        if new_columns:  # evolved columns, or _rescued_data on a table from before contracts
            writer = writer.option("mergeSchema", "true")
        writer.save(target)
        taken["rows"] += delta_log.last_commit_rows(session, target)

    writer = listing.writeStream.option(
        "checkpointLocation", project.checkpoint_path(table)
    ).queryName(f"bronze_{table.name}")
    exactly_once.for_each_batch_exactly_once(writer, table.ref, append)
    fingerprint.record(spark, project, table, observed)
    return RefreshResult(
        table.ref,
        files=taken["files"],
        rows_read=taken["rows"],
        warnings=tuple(d.describe() for d in drifts),
    )


def _warn_drifts(ref: str, policy: str, drifts: list[Drift]) -> None:
    """One warning per kind of drift, naming the first and last file: a year of backfill
    must not print a line per file."""
    by_kind: dict[str, list[str]] = {}
    for drift in filter(None, drifts):
        kind = drift.describe().removeprefix(f"{drift.file}: ")
        by_kind.setdefault(kind, []).append(drift.file)
    for kind, files in by_kind.items():
        where = files[0] if len(files) == 1 else f"{len(files)} files, {files[0]} .. {files[-1]}"
        log.warning("%s: %s: %s (%s)", ref, where, kind, policy)
