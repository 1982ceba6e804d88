"""A model's refresh: first build, schedule, then the changes of its inputs, batch by batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse.config import Project, Table
from lakehouse.config.tables import GoldSpec
from lakehouse.context import RunContext
from lakehouse.gold.additive import refresh_additive
from lakehouse.gold.build import build_model, few_values
from lakehouse.gold.changes import NEW_VERSION, change_stream, changed_rows, touched_keys
from lakehouse.gold.dimensions import SEQ, scd2_history, with_unknown_member
from lakehouse.gold.schedule import next_refresh
from lakehouse.gold.writers import (
    append_first_build,
    ensure_model_table,
    merge_keys,
    write_touched_keys,
)
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import delta_tables, exactly_once, fingerprint
from lakehouse.storage.catalog import register


@dataclass
class FirstBuild:
    """Whether this run builds the table for the first time: it does not exist, or holds
    nothing but its unknown member. The first batch to arrive takes that build, whole."""

    due: bool
    taken: bool = False

    def take(self) -> bool:
        """True once, for the batch that builds the table first."""
        if not self.due or self.taken:
            return False
        self.taken = True
        return True


def read_inputs(session: SparkSession, project: Project, spec: GoldSpec) -> dict[str, DataFrame]:
    return {
        alias: session.read.format("delta").load(project.table_path(project.table(ref)))
        for alias, ref in spec.inputs.items()
    }


def model_schema(session: SparkSession, project: Project, spec: GoldSpec) -> StructType | None:
    """The model's output schema from analysis alone; None for a transform (it may train)."""
    if spec.transform:
        return None
    rows = build_model(session, spec, read_inputs(session, project, spec), None)
    if spec.scd2:
        rows = scd2_history(rows.withColumn(SEQ, F.lit(0)), spec.key, spec.scd2)
    return rows.schema


def prepare_table(session: SparkSession, project: Project, table: Table) -> FirstBuild:
    """Create the table with its unknown member where the model's schema is known without
    running it, so that models reading it can start; say whether it still needs its first
    build."""
    path = project.table_path(table)
    existed = delta_tables.exists(session, path)
    created_empty = False
    if not existed or delta_tables.current_version(session, path) == 0:
        schema = model_schema(session, project, table.spec)
        created_empty = schema is not None and ensure_model_table(session, path, table.spec, schema)
    return FirstBuild(due=created_empty or not existed)


def rebuild_whole(
    session: SparkSession, project: Project, table: Table, first: bool = False
) -> int | None:
    """Recompute a model over all of its inputs and replace the table with it.

    ``first``: the table holds nothing yet but its unknown member, or does not exist; the
    rows are then appended as they are (``append_first_build``), and None is returned for the
    keys changed (all of them).
    """
    spec: GoldSpec = table.spec
    path = project.table_path(table)
    rows = build_model(session, spec, read_inputs(session, project, spec), None)
    if first:
        append_first_build(session, path, rows, spec)
        return None
    rows = with_unknown_member(session, spec, rows).persist()
    try:
        keys = rows.select(*spec.key)
        if delta_tables.exists(session, path):
            keys = keys.union(session.read.format("delta").load(path).select(*spec.key))
        keys = keys.distinct()
        merge_keys(session, path, keys, rows, spec)
        return keys.count()
    finally:
        rows.unpersist()


def refresh_versions(
    session: SparkSession, project: Project, table: Table, batch: DataFrame, first: bool = False
) -> int | None:
    """SCD2: merge the batch's new versions with the table's versions of the same keys.

    ``first``: the table holds no versions yet (see ``rebuild_whole``); the batch's are the
    history, written as they are."""
    spec: GoldSpec = table.spec
    source = next(iter(spec.changes))
    inputs = read_inputs(session, project, spec)
    inputs[source] = changed_rows(batch, source).where(F.col("_change_type").isin(*NEW_VERSION))
    if first:
        delivered = build_model(session, spec, inputs, None).withColumn(SEQ, F.lit(1))
        history = scd2_history(delivered, spec.key, spec.scd2)
        append_first_build(session, project.table_path(table), history, spec)
        return None
    delivered = build_model(session, spec, inputs, None).persist()
    keys = delivered.select(*spec.key).distinct().persist()
    existing = (
        session.read.format("delta")
        .load(project.table_path(table))
        .join(keys, on=list(spec.key), how="left_semi")
        .select(*delivered.columns)
    )
    versions = existing.withColumn(SEQ, F.lit(0)).unionByName(delivered.withColumn(SEQ, F.lit(1)))
    merge_keys(
        session,
        project.table_path(table),
        keys,
        scd2_history(versions, spec.key, spec.scd2),
        spec,
    )
    count = keys.count()
    keys.unpersist()
    delivered.unpersist()
    return count


def key_date_exprs(project: Project, spec: GoldSpec) -> dict[str, str]:
    """alias -> ``key_date`` of each input laid out by the day its keys carry."""
    out = {}
    for alias, ref in spec.inputs.items():
        source = project.table(ref)
        if source.layer == "silver" and source.spec.key_date:
            out[alias] = source.spec.key_date
    return out


def refresh_keys(session: SparkSession, project: Project, table: Table, batch: DataFrame) -> int:
    """Rebuild the keys the batch's changes touch and replace exactly those in the table."""
    spec: GoldSpec = table.spec
    inputs = read_inputs(session, project, spec)
    keys = touched_keys(session, spec, batch, inputs).persist()
    try:
        literals = few_values(keys, spec.key)  # once: the scans and the strategy both use it
        rows = build_model(session, spec, inputs, keys, key_date_exprs(project, spec), literals)
        return write_touched_keys(session, project.table_path(table), spec, keys, rows, literals)
    finally:
        keys.unpersist()


def refresh(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    """Bring a gold model up to date with its inputs' changes since its last refresh.

    A table built for the first time takes its inputs whole; after that, each batch of the
    inputs' change feeds rebuilds the keys it touches (``incremental: false``: the whole
    model; ``scd2``: the versions of the keys delivered). A model whose ``refresh_every`` has
    not passed is left alone (``Status.NOT_DUE``) unless ``ctx.refresh_now``.

    Example::

        result = refresh(spark, project, project.table("gold.fct_orders"), ctx)
        result.keys_changed  # None on a first build, where every key is new
    """
    spec: GoldSpec = table.spec
    path = project.table_path(table)
    observed = fingerprint.observe_inputs(spark, project, table)
    if fingerprint.up_to_date(spark, project, table, observed):
        return RefreshResult(table.ref, Status.UP_TO_DATE, keys_changed=0)
    # Temp views are per session: a separate one keeps models refreshed side by side apart.
    own = spark.newSession()
    first = prepare_table(own, project, table)
    if spec.refresh_interval and not first.due and not ctx.refresh_now:
        due = next_refresh(own, path, spec.refresh_interval)
        if due is not None and due > datetime.now(UTC):
            register(spark, project, table)
            return RefreshResult(table.ref, Status.NOT_DUE, keys_changed=0, not_due_until=due)
    if not spec.inputs:
        # Nothing to watch (a calendar): built with the table; drop the table to rebuild it.
        empty = first.due or own.read.format("delta").load(path).limit(2).count() < 2
        changed = rebuild_whole(own, project, table, first=first.take()) if empty else 0
        register(spark, project, table)
        fingerprint.record(spark, project, table, observed)
        return RefreshResult(table.ref, keys_changed=changed)

    changed = 0

    def handle(batch: DataFrame, batch_id: int) -> None:
        nonlocal changed
        # The batch's own session carries the idempotent-write settings of this micro-batch.
        session = batch.sparkSession
        builds_first = first.take()
        if (not spec.incremental or builds_first) and not spec.scd2:
            # When every key changed, finding the keys and restricting the inputs to them
            # is work on top of the whole build: the initial load builds whole.
            changed += rebuild_whole(session, project, table, first=builds_first) or 0
            return
        batch = batch.persist()
        try:
            if spec.scd2:
                changed += refresh_versions(session, project, table, batch, builds_first) or 0
            elif spec.strategy == "additive":
                inputs = read_inputs(session, project, spec)
                exprs = key_date_exprs(project, spec)
                changed += refresh_additive(session, path, spec, batch, inputs, exprs)
            else:
                changed += refresh_keys(session, project, table, batch)
        finally:
            batch.unpersist()

    writer = (
        change_stream(spark, project, spec)
        .writeStream.option("checkpointLocation", project.checkpoint_path(table))
        .queryName(f"gold_{table.name}")
    )
    exactly_once.for_each_batch_exactly_once(writer, table.ref, handle)
    if delta_tables.exists(spark, path):
        register(spark, project, table)
        fingerprint.record(spark, project, table, observed)
    return RefreshResult(table.ref, keys_changed=None if first.taken else changed)
