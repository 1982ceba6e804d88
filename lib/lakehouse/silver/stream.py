"""Silver's refresh: the bronze rows that arrived since the last run, read as a Delta stream
and handed to ``micro_batch`` one batch at a time."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Project, Table
from lakehouse.config.tables import SilverSpec
from lakehouse.context import RunContext
from lakehouse.results import RefreshResult, Status
from lakehouse.silver import pii
from lakehouse.silver.conform import silver_schema
from lakehouse.silver.micro_batch import BatchContext, Counts, process_batch
from lakehouse.silver.quality import gx_mirror, store
from lakehouse.storage import delta_tables, exactly_once, fingerprint, object_store
from lakehouse.storage import key_date_layout as layout


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
    observed = fingerprint.observe_source(spark, project, table)
    if fingerprint.up_to_date(spark, project, table, observed):
        return RefreshResult(table.ref, Status.UP_TO_DATE, rows_read=0, rows_quarantined=0)
    path = project.table_path(table)
    schema = silver_schema(spec)
    if spec.key_date:
        target = delta_tables.ensure_table(
            spark,
            path,
            layout.layout_schema(schema),
            layout.PARTITION_BY,
            {**delta_tables.CHANGE_FEED, **layout.TABLE_PROPERTIES},
        )
    else:
        target = delta_tables.ensure_table(
            spark, path, schema, spec.partition_by, delta_tables.CHANGE_FEED
        )
    # A table made before its YAML declared key_date, or with day partitions, keeps its
    # layout until rebuilt.
    columns = target.toDF().columns
    by_key_date = bool(spec.key_date) and layout.KEY_DATE_COLUMN in columns
    monthly = by_key_date and layout.is_monthly(columns)
    quarantine_path = project.quarantine_path(table)
    delta_tables.ensure_table(spark, quarantine_path, store.quarantine_schema(schema))
    store.ensure_results_table(spark, project.quality_results_path)
    needs_key = any(p.action == "hash" for p in spec.pii.values())
    batch_ctx = BatchContext(
        table=table,
        spec=spec,
        suite=project.suites.get(table.ref),
        path=path,
        quarantine_path=quarantine_path,
        results_path=project.quality_results_path,
        gx_dir=_gx_dir(project) if project.settings.quality.great_expectations else None,
        gx_mirror=None if object_store.is_local(project.root) else _gx_remote(project),
        docs_index_runs=project.settings.quality.data_docs_index_runs,
        harmonisation=project.harmonisation,
        key=pii.load_key(ctx.profile, _key_file(project)) if needs_key else None,
        run_id=ctx.run_id,
        by_key_date=by_key_date,
        monthly=monthly,
    )
    counts = Counts()
    stream = (
        spark.readStream.format("delta")
        .options(**exactly_once.WHOLE_BACKLOG)
        .load(project.table_path(project.table(spec.source)))
    )
    writer = stream.writeStream.option(
        "checkpointLocation", project.checkpoint_path(table)
    ).queryName(f"silver_{table.name}")
    # Version 0 is the table's creation, with no rows (an empty table at a later version
    # just takes the MERGE).
    empty = delta_tables.current_version(spark, path) == 0

    def handle(batch: DataFrame, batch_id: int) -> None:
        nonlocal empty
        process_batch(batch_ctx, batch, batch_id, counts, into_empty=empty)
        empty = False

    exactly_once.for_each_batch_exactly_once(writer, table.ref, handle)
    fingerprint.record(spark, project, table, observed)
    return RefreshResult(
        table.ref, rows_read=counts.rows_read, rows_quarantined=counts.rows_quarantined
    )


def _gx_remote(project: Project) -> str:
    return f"{project.root}/_quality/gx"


def _gx_dir(project: Project) -> Path:
    """GX's project: under the root on this disk, else a working copy of the warehouse's."""
    if object_store.is_local(project.root):
        return project.gx_dir
    return gx_mirror.working_copy(project.gx_dir, _gx_remote(project))


def _key_file(project: Project) -> Path | None:
    """Where the local profile keeps a key it made: beside a warehouse on this disk only."""
    return project.pii_key_file if object_store.is_local(project.root) else None
