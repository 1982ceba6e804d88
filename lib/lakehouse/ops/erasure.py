"""Erasure (right to be forgotten): remove data subjects from every layer, then purge history.

Which rows belong to a subject is declared per table (``erasure:`` in its YAML): a column
holding the id, or a value derived from it by a SQL expression over ``subject_id`` (a hashed
surrogate key). Bronze rows kept only as raw text (``_corrupt_record``, ``_rescued_data``)
go when the id appears in that text as a whole token.

Why the steps are as they are (docs/contracts_and_erasure.md):

1. Silver and gold first catch up with what bronze already holds, models with a
   ``refresh_every`` included, so no stream is left needing a file the purge deletes.
2. Each table is rewritten without the subjects' rows as a commit flagged ``dataChange=false``.
   The ids never appear in the log (no predicate with literals), and downstream streams skip
   the commit: every layer is erased directly, so nothing has to flow, and a silver stream over
   bronze would otherwise stop at a commit that removes rows.
3. The purge: VACUUM with zero retention deletes the old data files and Change Data Feed
   files; a fresh checkpoint holds the state; older checkpoints and version checksums (both
   carry file statistics, min/max values included) are deleted; and older commit files keep
   their actions, which streams read, but lose their ``stats``.
4. Landing files (the raw drops) lose the subjects' lines too; a file keeps its path and
   modification time, so the bronze stream does not take it again.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze import contracts
from lakehouse.bronze.columns import CORRUPT_RECORD, RESCUED_DATA
from lakehouse.bronze.files import reader_options
from lakehouse.config import Project, Table
from lakehouse.config.tables import ErasureSpec
from lakehouse.context import RunContext
from lakehouse.storage import delta_tables, hadoop_fs

log = logging.getLogger(__name__)

SUBJECT_ID = "subject_id"
_MATCH = "_erasure_match"
RAW_TEXT_COLUMNS = (CORRUPT_RECORD, RESCUED_DATA)
# An id inside raw text counts only as a whole token: C1 must not take C10's lines.
_TOKEN_EDGE = "A-Za-z0-9_-"


# --- which rows ---------------------------------------------------------------------------


def subject_ids(spark: SparkSession, ids: Iterable[str]) -> DataFrame:
    values = sorted({i.strip() for i in ids if i and i.strip()})
    if not values:
        raise ValueError("no data subject ids given")
    return spark.createDataFrame([(v,) for v in values], f"{SUBJECT_ID} string")


def read_ids(lines: Iterable[str]) -> list[str]:
    """Ids from a file, one per line; blank lines and ``#`` comments are ignored."""
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


def _token_pattern(id_column: Column) -> Column:
    # \Q..\E quotes the id, so an id with regex characters still matches literally.
    return F.concat(F.lit(f"(?<![{_TOKEN_EDGE}])\\Q"), id_column, F.lit(f"\\E(?![{_TOKEN_EDGE}])"))


def matching(df: DataFrame, ids: DataFrame, spec: ErasureSpec) -> Column:
    """Join condition between a table's rows and the ids: the declared column, or the id as a
    token in a raw-text column."""
    condition = F.col(f"t.`{spec.column}`") == F.col(f"s.{_MATCH}")
    for raw in RAW_TEXT_COLUMNS:
        if raw in df.columns:
            pattern = _token_pattern(F.col(f"s.{SUBJECT_ID}"))
            condition = condition | F.coalesce(
                F.regexp_like(F.col(f"t.{raw}"), pattern), F.lit(False)
            )
    return condition


def _ids_with_match(ids: DataFrame, spec: ErasureSpec) -> DataFrame:
    return F.broadcast(ids.select(SUBJECT_ID, F.expr(spec.expr).alias(_MATCH)))


def without_subjects(df: DataFrame, ids: DataFrame, spec: ErasureSpec) -> DataFrame:
    """The rows of ``df`` that belong to none of the subjects."""
    return df.alias("t").join(
        _ids_with_match(ids, spec).alias("s"), matching(df, ids, spec), "left_anti"
    )


def of_subjects(df: DataFrame, ids: DataFrame, spec: ErasureSpec) -> DataFrame:
    return df.alias("t").join(
        _ids_with_match(ids, spec).alias("s"), matching(df, ids, spec), "left_semi"
    )


# --- removing and purging (small helpers, shared with maintenance) ---------------------------


def rewrite_without(spark: SparkSession, path: str, ids: DataFrame, spec: ErasureSpec) -> int:
    """Rewrite the table without the subjects' rows; returns how many rows went.

    The commit is flagged ``dataChange=false`` so streams reading the table skip it (each layer
    is erased on its own), and it names no id: the ids travel as data, not as a predicate.
    """
    current = spark.read.format("delta").load(path)
    removed = of_subjects(current, ids, spec).count()
    if removed:
        (
            without_subjects(current, ids, spec)
            .write.format("delta")
            .mode("overwrite")
            .option("dataChange", "false")
            .save(path)
        )
    return removed


@contextmanager
def _zero_retention_allowed(spark: SparkSession):
    key = "spark.databricks.delta.retentionDurationCheck.enabled"
    before = spark.conf.get(key, None)
    spark.conf.set(key, "false")
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def vacuum_all(spark: SparkSession, path: str) -> None:
    """Delete every file the current version does not use, Change Data Feed files included."""
    with _zero_retention_allowed(spark):
        DeltaTable.forPath(spark, path).vacuum(0.0)


def checkpoint(spark: SparkSession, path: str) -> int:
    """Write a checkpoint of the current version; returns that version."""
    hadoop_fs.checkpoint_delta_log(spark, path)
    fs, fs_path = hadoop_fs.file_system(spark, f"{path}/_delta_log/_last_checkpoint")
    return int(json.loads(_read_text(fs, fs_path))["version"])


_LOG_FILE = re.compile(r"^(\d{20})\.(json|crc|checkpoint\..*parquet|\d{20}\.compacted\.json)$")


def scrub_log(spark: SparkSession, path: str, before_version: int) -> int:
    """Remove file statistics from the log's history before ``before_version``.

    Checkpoints and version checksums there are deleted (only time travel uses them). Commit
    files stay, since a stream resumes by reading commits from where it stopped, but lose the
    ``stats`` of their actions. Returns how many files were touched.
    """
    fs, fs_path = hadoop_fs.file_system(spark, f"{path}/_delta_log")
    touched = 0
    for status in fs.listStatus(fs_path):
        file = status.getPath()
        found = _LOG_FILE.match(file.getName())
        if not found or int(found.group(1)) >= before_version:
            continue
        if found.group(2) == "json":
            text = _read_text(fs, file)
            scrubbed = _without_stats(text)
            if scrubbed != text:
                _write_text(fs, file, scrubbed)
                touched += 1
        else:
            fs.delete(file, False)
            touched += 1
    return touched


def _without_stats(commit: str) -> str:
    lines = []
    for line in commit.splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        for kind in ("add", "remove", "cdc"):
            if kind in action:
                action[kind].pop("stats", None)
        lines.append(json.dumps(action, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def _read_text(fs, file) -> str:
    stream = fs.open(file)
    try:
        data = bytearray()
        while chunk := stream.readNBytes(1 << 20):
            data += bytes(chunk)
        return data.decode("utf-8")
    finally:
        stream.close()


def _write_text(fs, file, text: str) -> None:
    out = fs.create(file, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()


def purge(spark: SparkSession, path: str) -> None:
    """Leave no copy of removed rows: old files, Change Data Feed, log statistics."""
    vacuum_all(spark, path)
    version = checkpoint(spark, path)
    scrub_log(spark, path, version)


# --- landing ------------------------------------------------------------------------------


def _token_regex(ids: list[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(f"(?<![{_TOKEN_EDGE}])(?:{alternatives})(?![{_TOKEN_EDGE}])")


def scrub_text(text: str, fmt: str, column: str, ids: list[str], options: dict[str, str]) -> str:
    """A CSV or JSON lines file without the lines of the subjects: the declared column equals
    an id, or (a line that does not parse) the id appears in it as a token."""
    token = _token_regex(ids)
    wanted = set(ids)
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    position = None
    if fmt == "csv" and lines:
        delimiter, quote = contracts.csv_dialect(options)
        names = contracts.csv_header(lines[0], options)
        position = names.index(column) if column in names else None
        kept.append(lines[0])
        lines = lines[1:]
    for line in lines:
        if fmt == "csv":
            fields = next(csv.reader(io.StringIO(line), delimiter=delimiter, quotechar=quote), [])
            parsed = len(fields) == len(names)
            hit = (position is not None and fields[position] in wanted) if parsed else False
        else:
            try:
                record = json.loads(line)
                parsed = isinstance(record, dict)
            except ValueError:
                parsed = False
            hit = parsed and str(record.get(column)) in wanted
        if hit or (not parsed and token.search(line)):
            continue
        kept.append(line)
    return "".join(kept)


def scrub_landing(spark: SparkSession, project: Project, table: Table, ids: list[str]) -> int:
    """Remove the subjects from a bronze source's landed files; returns files rewritten."""
    source, spec = table.spec.source, table.spec.erasure
    if source.format in ("kafka", "jdbc"):  # no landed files; the system keeps its own data
        return 0
    fs, root = hadoop_fs.file_system(spark, project.landing_path(table))
    if not fs.exists(root):
        return 0
    changed = 0
    files = fs.listFiles(root, True)
    while files.hasNext():
        status = files.next()
        file = status.getPath()
        relative = file.toUri().getPath()[len(root.toUri().getPath()) :]
        if any(part.startswith((".", "_")) for part in relative.split("/") if part):
            continue  # Spark never reads such names: files being written, markers
        if source.format == "parquet":
            done = _scrub_parquet(spark, fs, file, spec, ids)
        else:
            text = _read_text(fs, file)
            scrubbed = scrub_text(text, source.format, spec.column, ids, reader_options(source))
            done = scrubbed != text
            if done:
                _write_text(fs, file, scrubbed)
        if done:
            # Same path and time: the file stream knows it, and must not take it again.
            fs.setTimes(file, status.getModificationTime(), -1)
            changed += 1
    return changed


def _scrub_parquet(spark: SparkSession, fs, file, spec: ErasureSpec, ids: list[str]) -> bool:
    df = spark.read.parquet(file.toString())
    ids_df = subject_ids(spark, ids)
    if spec.column not in df.columns or not of_subjects(df, ids_df, spec).count():
        return False
    staging = file.getParent().suffix(f"/_erasure_{file.getName()}")
    without_subjects(df, ids_df, spec).coalesce(1).write.mode("overwrite").parquet(
        staging.toString()
    )
    part = next(
        s.getPath() for s in fs.listStatus(staging) if s.getPath().getName().startswith("part-")
    )
    fs.delete(file, False)
    fs.rename(part, file)
    fs.delete(staging, True)
    return True


# --- the job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureReport:
    subjects: int
    rows_removed: dict[str, int]
    landing_files: dict[str, int]


def tables_with_erasure(project: Project) -> list[Table]:
    return [t for t in project.in_dependency_order() if getattr(t.spec, "erasure", None)]


def erasure_targets(project: Project) -> list[tuple[str, str, ErasureSpec]]:
    """(name, path, spec) of every Delta table holding subjects' rows: the declared tables,
    and each silver table's quarantine, which keeps the rejected rows with the same columns."""
    targets = []
    for table in tables_with_erasure(project):
        targets.append((table.ref, project.table_path(table), table.spec.erasure))
        if table.layer == "silver" and hasattr(project, "quarantine_path"):
            targets.append(
                (f"quarantine.{table.name}", project.quarantine_path(table), table.spec.erasure)
            )
    return targets


def catch_up(spark: SparkSession, project: Project, ctx: RunContext) -> None:
    """Bring silver and gold up to date before erasing, models with a ``refresh_every``
    included (``refresh_now``): a stream left behind would need the change files the purge
    deletes."""
    from lakehouse import pipeline  # the runner imports every layer; only needed here

    tables = pipeline.select(project, pipeline.Selection(layers=("silver", "gold")))
    pipeline.run(spark, project, catch_up_context(ctx), tables)


def catch_up_context(ctx: RunContext) -> RunContext:
    return ctx.derived("catch-up", refresh_now=True, days=())


def erase(
    spark: SparkSession,
    project: Project,
    ids: list[str],
    ctx: RunContext,
    catch_up_first: bool = True,
) -> ErasureReport:
    """Remove the subjects from every table that declares ``erasure``, then purge history.

    Example::

        report = erase(spark, project, ["C1", "C2"], ctx)
        report.rows_removed  # rows removed per table; the ids are never logged
    """
    ids_df = subject_ids(spark, ids).persist()
    try:
        if catch_up_first:
            catch_up(spark, project, ctx)
        targets = [t for t in erasure_targets(project) if delta_tables.exists(spark, t[1])]
        removed = {name: rewrite_without(spark, path, ids_df, spec) for name, path, spec in targets}
        for _name, path, _spec in targets:
            purge(spark, path)
        landing = {
            t.ref: scrub_landing(spark, project, t, list(ids))
            for t in tables_with_erasure(project)
            if t.layer == "bronze"
        }
    finally:
        ids_df.unpersist()
    log.info("erasure %s: %d subjects, rows removed %s", ctx.run_id, len(set(ids)), removed)
    return ErasureReport(len(set(ids)), removed, landing)


def total(values: dict[str, int]) -> int:
    return reduce(lambda a, b: a + b, values.values(), 0)
