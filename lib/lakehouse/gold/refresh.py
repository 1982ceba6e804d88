"""A model's refresh: read its state, plan, execute the plan, record what it consumed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from lakehouse.config import Project, Table
from lakehouse.context import RunContext
from lakehouse.gold import change_sets
from lakehouse.gold.plan import Plan, Rows, Strategy, Write, plan_refresh
from lakehouse.gold.state import commit_metadata, read_state, record_without_commit
from lakehouse.gold.strategies import ModelRun, execute
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import delta_log
from lakehouse.storage.catalog import register

log = logging.getLogger(__name__)

# A model's refresh reads a few thousand changed rows and the rows of their keys: adaptive
# execution would turn each shuffle of it into a Spark job of its own (twice the jobs, each
# with its fixed cost) to optimise partitions that are small anyway. Whole builds keep it.
_SMALL_WORK = {"spark.sql.adaptive.enabled": "false"}


def plan(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> Plan:
    """What refreshing ``table`` would do now (no Spark job)."""
    state = read_state(spark, project, table)
    return plan_refresh(table, state, datetime.now(UTC), ctx.refresh_now)


def refresh(spark: SparkSession, project: Project, table: Table, ctx: RunContext) -> RefreshResult:
    """Bring a gold model up to date with its inputs' changes since its last refresh.

    The plan decides (``plan.plan_refresh``); the strategy executes it in the model's own
    Spark session, and its commit records the input versions it consumed.

    Example::

        result = refresh(spark, project, project.table("gold.fct_orders"), ctx)
        result.strategy, result.keys_changed   # "merge_keys", 412
    """
    decided = plan(spark, project, table, ctx)
    result = RefreshResult(table.ref, strategy=decided.strategy.value, plan=decided.reason)
    if decided.strategy is Strategy.UP_TO_DATE:
        if decided.record:
            record_without_commit(spark, project, table, dict(decided.consumed))
        return result.with_(status=Status.UP_TO_DATE, keys_changed=0)
    if decided.strategy is Strategy.NOT_DUE:
        register(spark, project, table)
        return result.with_(
            status=Status.NOT_DUE, keys_changed=0, not_due_until=decided.not_due_until
        )
    committed, keys = _execute(spark, project, table, ctx, decided)
    if not committed:
        record_without_commit(spark, project, table, dict(decided.consumed))
    register(spark, project, table)
    if decided.rows is Rows.ALL and decided.write is not Write.APPEND:
        keys = _rows_touched_by_last_commit(spark, project, table) if committed else 0
    return result.with_(keys_changed=keys)


def _execute(
    spark: SparkSession, project: Project, table: Table, ctx: RunContext, decided: Plan
) -> tuple[bool, int | None]:
    own = spark.newSession()  # temp views and commit settings of its own, side by side
    if decided.rows is not Rows.ALL:
        for key, value in _SMALL_WORK.items():
            own.conf.set(key, value)
    metadata = commit_metadata(ctx.run_id, decided.strategy.value, dict(decided.consumed))
    run = ModelRun(own, project, table, decided, change_sets.for_run(spark, ctx.run_id), metadata)
    return execute(run)


def _rows_touched_by_last_commit(spark: SparkSession, project: Project, table: Table) -> int:
    path = project.table_path(table)
    commit = delta_log.commit(spark, path, delta_log.latest_version(spark, path))
    return commit.rows_touched if commit else 0
