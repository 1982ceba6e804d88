"""One micro-batch of bronze rows into silver: protect personal data, conform, judge by the
rules, quarantine, then write the latest versions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.bronze.columns import (
    ARRIVAL_COLUMNS,
    CORRUPT_RECORD,
)
from lakehouse.config import Table
from lakehouse.config.expectations import Suite
from lakehouse.config.harmonisation import HarmonisationSpec
from lakehouse.config.tables import SilverSpec
from lakehouse.silver import deletes, pii
from lakehouse.silver.conform import conform, sequence_columns, silver_schema
from lakehouse.silver.harmonise import Harmonisers
from lakehouse.silver.latest import (
    latest_per_key,
    merge_latest,
    newer_than,
    write_by_key_dates,
    write_latest,
)
from lakehouse.silver.quality import check, gx_validation, store
from lakehouse.storage import key_date_layout as layout


def split_rejected(df: DataFrame, spec: SilverSpec) -> tuple[DataFrame, DataFrame]:
    """Rows silver cannot take at all (malformed lines, incomplete keys) and the rest."""
    flagged = check.flag(df, None, spec.keys)
    leaving = F.size(check.RULES) > 0
    return (
        flagged.where(~leaving).drop(check.RULES, CORRUPT_RECORD),
        flagged.where(leaving),
    )


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
    by_key_date: bool  # the table has the key-date column (silver_layout)
    monthly: bool  # ... and is partitioned by its month, not its day
    gx_mirror: str | None = None  # the warehouse's GX folder when gx_dir is a working copy


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
                mirror=ctx.gx_mirror,
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
        if ctx.by_key_date:
            good = layout.with_key_date(good, ctx.spec.key_date, ctx.monthly)
        latest = latest_per_key(good, ctx.spec.keys, sequence_columns(ctx.spec))
        if into_empty:
            write_latest(ctx.path, deletes.without_deletes(latest), ctx.by_key_date, ctx.monthly)
        elif deleted is not None:
            newer = newer_than("s", "t", ctx.spec.sequence_by or ARRIVAL_COLUMNS)
            deletes.merge(DeltaTable.forPath(spark, ctx.path), latest, ctx.spec.keys, newer)
        elif ctx.by_key_date:
            write_by_key_dates(spark, ctx.path, ctx.spec, latest, ctx.monthly)
        else:
            merge_latest(DeltaTable.forPath(spark, ctx.path), latest, ctx.spec)
        counts.rows_read += total
        counts.rows_quarantined += leaving_rows
    finally:
        flagged.unpersist()
