"""Silver: one typed row per business key, the latest version winning, merged in from the
bronze rows that arrived since the last run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse import deletes, delta_io, freshness, pii
from lakehouse import silver_layout as layout
from lakehouse.bronze import ARRIVAL_COLUMNS, LINEAGE_SCHEMA
from lakehouse.config import Project, Table
from lakehouse.config.model import SilverSpec
from lakehouse.context import RunContext
from lakehouse.harmonise import HarmonisationSpec, Harmonisers
from lakehouse.quality import check, gx_validation, store
from lakehouse.quality.suite import Suite
from lakehouse.results import RefreshResult, Status
from lakehouse.schema import CORRUPT_RECORD, struct_from_columns

# Bronze lineage travels into silver; `_run_id` there names the silver run that wrote the row.
SILVER_LINEAGE = [f for f in LINEAGE_SCHEMA.fields if f.name != "_run_id"] + [
    StructField("_run_id", StringType(), False)
]


def silver_schema(spec: SilverSpec) -> StructType:
    return StructType(struct_from_columns(spec.columns).fields + SILVER_LINEAGE)


def conform(
    df: DataFrame,
    spec: SilverSpec,
    run_id: str,
    harmonisation: HarmonisationSpec | None = None,
) -> DataFrame:
    """Typed columns computed from their declared expression (default: same-named column),
    harmonised where the column asks for it.

    A value that does not fit its type becomes null rather than failing the batch; the raw
    value stays in bronze. A malformed line's raw text is carried along so it can be
    quarantined, unless the table holds personal data (then only its lineage is kept).
    """
    harmonisers = Harmonisers(harmonisation or HarmonisationSpec()).by_name()
    columns = []
    for name, column in spec.columns.items():
        value = F.expr(column.expr or f"`{name}`")
        if column.harmonise:
            value = harmonisers[column.harmonise](value)
        columns.append(value.try_cast(column.type).alias(name))
    lineage = [F.col(f.name) for f in SILVER_LINEAGE if f.name != "_run_id"]
    raw = []
    if CORRUPT_RECORD in df.columns:
        text = F.col(CORRUPT_RECORD)
        if spec.pii:  # the raw line holds personal data in clear; its lineage finds it in bronze
            text = F.when(text.isNotNull(), F.lit("<withheld: personal data>"))
        raw = [text.alias(CORRUPT_RECORD)]
    if deletes.DELETED in df.columns:
        raw.append(F.col(deletes.DELETED))
    return df.select(*columns, *lineage, F.lit(run_id).alias("_run_id"), *raw)


def sequence_columns(spec: SilverSpec) -> tuple[str, ...]:
    """Newest first by the declared sequence, then by arrival (file, then line)."""
    return (*spec.sequence_by, *ARRIVAL_COLUMNS)


def latest_per_key(df: DataFrame, keys: tuple[str, ...], order: tuple[str, ...]) -> DataFrame:
    """Keep one row per key: the greatest by ``order`` (nulls count as oldest)."""
    window = Window.partitionBy(*keys).orderBy(*(F.col(c).desc_nulls_last() for c in order))
    return df.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


def newer_than(source: str, target: str, columns: tuple[str, ...]) -> str:
    """SQL: is the source row newer than the target row, comparing ``columns`` in order,
    a null being older than any value."""
    condition = "false"
    for c in reversed(columns):
        s, t = f"{source}.`{c}`", f"{target}.`{c}`"
        condition = (
            f"(({s} IS NOT NULL AND {t} IS NULL) OR {s} > {t} OR ({s} <=> {t} AND {condition}))"
        )
    return condition


def split_rejected(df: DataFrame, spec: SilverSpec) -> tuple[DataFrame, DataFrame]:
    """Rows silver cannot take at all (malformed lines, incomplete keys) and the rest."""
    flagged = check.flag(df, None, spec.keys)
    leaving = F.size(check.RULES) > 0
    return (
        flagged.where(~leaving).drop(check.RULES, CORRUPT_RECORD),
        flagged.where(leaving),
    )


def merge_latest(
    target: DeltaTable, batch: DataFrame, spec: SilverSpec, narrow: Column | None = None
) -> None:
    """Upsert the batch's latest version per key; an older version never replaces a newer one.

    ``narrow``: a condition on the target alone that every row the batch can match meets (its
    days, see ``silver_layout``), so the MERGE reads only those files. Into a table that holds
    nothing yet, see ``write_latest``."""
    on = F.expr(" AND ".join(f"t.`{k}` = s.`{k}`" for k in spec.keys))
    if narrow is not None:
        on = on & narrow
    # With a business sequence an equal version is a re-send: leave the row (and its lineage) be.
    decisive = spec.sequence_by or ARRIVAL_COLUMNS
    (
        target.alias("t")
        .merge(batch.alias("s"), on)
        .whenMatchedUpdateAll(condition=newer_than("s", "t", decisive))
        .whenNotMatchedInsertAll()
        .execute()
    )


def write_latest(
    path: str, latest: DataFrame, laid_out: bool = False, monthly: bool = False
) -> None:
    """A batch into an empty table, or of keys the table lacks: its latest versions are new
    rows. Appending them is what a MERGE would do, without the MERGE's first pass, which joins
    the whole batch with the table only to find that no row matches.

    ``laid_out``: the table is partitioned by key date (its month, or its day: ``monthly``);
    each partition's rows are written by one task, so a batch adds one file per partition
    instead of one per partition and task."""
    if laid_out:
        latest = layout.by_partition(latest, monthly)
    latest.write.format("delta").mode("append").save(path)


@dataclass
class Counts:
    """What the batches of one refresh took in and sent to quarantine."""

    rows_read: int = 0
    rows_quarantined: int = 0


@dataclass(frozen=True)
class BatchContext:
    """What one table's micro-batches need, resolved once per run."""

    table: Table
    spec: SilverSpec
    suite: Suite | None
    path: str
    quarantine_path: str
    results_path: str
    gx_dir: Path | None
    docs_index_runs: int
    harmonisation: HarmonisationSpec
    key: pii.HashKey | None
    run_id: str
    laid_out: bool  # the table has the key-date column (silver_layout)
    monthly: bool  # ... and is partitioned by its month, not its day


def process_batch(
    ctx: BatchContext,
    batch: DataFrame,
    batch_id: int,
    counts: Counts,
    into_empty: bool = False,
) -> None:
    """One micro-batch of bronze rows into silver: protect, conform, judge, quarantine, merge.

    A broken ``fail`` rule raises ``DataQualityError`` before anything is written. Every
    write carries the batch's Delta transaction id (set by the caller), so a replay of the
    same batch after a crash writes nothing twice. ``into_empty``: the table holds no rows
    yet, so the batch's latest versions are appended instead of merged.
    """
    spark = batch.sparkSession  # it carries this micro-batch's idempotent-write settings
    timestamp = Harmonisers(ctx.harmonisation).timestamp
    protected = pii.protect(deletes.flag(batch, ctx.spec), ctx.spec.pii, ctx.key, timestamp)
    typed, deleted = deletes.split(conform(protected, ctx.spec, ctx.run_id, ctx.harmonisation))
    flagged = check.flag(typed, ctx.suite, ctx.spec.keys).persist()
    try:
        total, leaving_rows, outcomes = check.outcomes(flagged, ctx.suite)
        check.stop_if_failed(ctx.table.ref, ctx.suite, outcomes)
        gx_unexpected: dict[str, int] = {}
        if ctx.suite and ctx.suite.expectations and ctx.gx_dir is not None:
            gx = gx_validation.validate(
                check.judged_rows(flagged),
                ctx.suite,
                ctx.gx_dir,
                name=ctx.table.ref.replace(".", "_"),
                run_name=f"{ctx.run_id}-{batch_id}",
                index_runs=ctx.docs_index_runs,
            )
            gx_unexpected = gx.unexpected

        leaving = check.quarantined(ctx.suite)
        if leaving_rows:
            store.append_quarantine(
                flagged.where(leaving),
                ctx.quarantine_path,
                store.quarantine_schema(silver_schema(ctx.spec)),
            )
        store.append_results(
            spark, ctx.results_path, ctx.table.ref, outcomes, gx_unexpected, ctx.run_id, batch_id
        )
        good = flagged.where(~leaving).drop(check.RULES, CORRUPT_RECORD)
        good = deletes.rejoin(good, deleted)
        if ctx.laid_out:
            good = layout.with_key_date(good, ctx.spec, ctx.monthly)
        latest = latest_per_key(good, ctx.spec.keys, sequence_columns(ctx.spec))
        if into_empty:
            write_latest(ctx.path, deletes.without_deletes(latest), ctx.laid_out, ctx.monthly)
        elif deleted is not None:
            newer = newer_than("s", "t", ctx.spec.sequence_by or ARRIVAL_COLUMNS)
            deletes.merge(DeltaTable.forPath(spark, ctx.path), latest, ctx.spec.keys, newer)
        elif ctx.laid_out:
            write_by_days(spark, ctx, latest)
        else:
            merge_latest(DeltaTable.forPath(spark, ctx.path), latest, ctx.spec)
        counts.rows_read += total
        counts.rows_quarantined += leaving_rows
    finally:
        flagged.unpersist()


def write_by_days(spark: SparkSession, ctx: BatchContext, latest: DataFrame) -> None:
    """Into a table laid out by key date: append when no key of the batch is there yet on its
    days, else MERGE reading only those days."""
    latest = latest.persist()
    try:
        days = layout.batch_days(latest)
        target = DeltaTable.forPath(spark, ctx.path)
        if not layout.any_key_present(target.toDF(), latest, ctx.spec.keys, days):
            write_latest(ctx.path, latest, laid_out=True, monthly=ctx.monthly)
            return
        same_day = F.col(f"t.`{layout.KEY_DATE}`").eqNullSafe(F.col(f"s.`{layout.KEY_DATE}`"))
        narrow = layout.on_days("t", days, ctx.monthly) & same_day
        merge_latest(target, latest, ctx.spec, narrow)
    finally:
        latest.unpersist()


def refresh(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    """Merge the bronze rows that arrived since the last refresh into the silver table.

    Reads its bronze table as a Delta stream (``availableNow`` with a checkpoint), so each
    bronze row is taken once; ``process_batch`` says what happens to a batch. Raises
    ``DataQualityError`` when a ``fail`` rule broke; nothing of that batch is written.

    Example::

        result = refresh(spark, project, project.table("silver.orders"), ctx)
        result.rows_read, result.rows_quarantined
    """
    spec: SilverSpec = table.spec
    observed = freshness.observe(spark, project, table)
    if freshness.up_to_date(spark, project, table, observed):
        return RefreshResult(table.ref, Status.UP_TO_DATE, rows_read=0, rows_quarantined=0)
    path = project.table_path(table)
    schema = silver_schema(spec)
    if spec.key_date:
        target = delta_io.ensure_table(
            spark,
            path,
            layout.layout_schema(schema),
            layout.PARTITION_BY,
            {**delta_io.CHANGE_FEED, **layout.TABLE_PROPERTIES},
        )
    else:
        target = delta_io.ensure_table(spark, path, schema, spec.partition_by, delta_io.CHANGE_FEED)
    # A table made before its YAML declared key_date, or with day partitions, keeps its
    # layout until rebuilt.
    columns = target.toDF().columns
    laid_out = bool(spec.key_date) and layout.KEY_DATE in columns
    monthly = laid_out and layout.is_monthly(columns)
    quarantine_path = project.quarantine_path(table)
    delta_io.ensure_table(spark, quarantine_path, store.quarantine_schema(schema))
    store.ensure_results_table(spark, project.quality_results_path)
    needs_key = any(p.action == "hash" for p in spec.pii.values())
    batch_ctx = BatchContext(
        table=table,
        spec=spec,
        suite=project.suites.get(table.ref),
        path=path,
        quarantine_path=quarantine_path,
        results_path=project.quality_results_path,
        gx_dir=project.gx_dir if project.settings.quality.great_expectations else None,
        docs_index_runs=project.settings.quality.data_docs_index_runs,
        harmonisation=project.harmonisation,
        key=pii.load_key(ctx.profile, project.pii_key_file) if needs_key else None,
        run_id=ctx.run_id,
        laid_out=laid_out,
        monthly=monthly,
    )
    counts = Counts()
    stream = (
        spark.readStream.format("delta")
        .options(**delta_io.WHOLE_BACKLOG)
        .load(project.table_path(project.table(spec.source)))
    )
    writer = stream.writeStream.option(
        "checkpointLocation", project.checkpoint_path(table)
    ).queryName(f"silver_{table.name}")
    # Version 0 is the table's creation, with no rows (an empty table at a later version
    # just takes the MERGE).
    empty = delta_io.current_version(spark, path) == 0

    def handle(batch: DataFrame, batch_id: int) -> None:
        nonlocal empty
        process_batch(batch_ctx, batch, batch_id, counts, into_empty=empty)
        empty = False

    delta_io.for_each_batch_exactly_once(writer, table.ref, handle)
    freshness.record(spark, project, table, observed)
    return RefreshResult(
        table.ref, rows_read=counts.rows_read, rows_quarantined=counts.rows_quarantined
    )
