"""A model's table and inputs as their Delta logs tell, read without a Spark job, and the record
of what each refresh consumed.

Each refresh that writes records, in the same commit, the input versions it read up to
(Delta's ``userMetadata`` of that commit): what a model consumed commits with what it wrote,
so a refresh killed before its commit is simply done again, and one killed after it is not.
A refresh that had nothing to write records them in a small file beside the table's
checkpoints instead, valid while the table stays at the version it names.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.config import Project, Table
from lakehouse.gold.plan import InputState, TableState
from lakehouse.storage import delta_log, hadoop_fs

METADATA_KEY = "lakehouse"
MARKER = "consumed.json"
# How far back a table's log is searched for the last refresh's commit: maintenance and
# erasure commit in between (OPTIMIZE, VACUUM, a rewrite), a few per refresh at most.
_LOOK_BACK = 50


def commit_metadata(run_id: str, strategy: str, consumed: dict[str, int]) -> str:
    """The ``userMetadata`` a refresh's commit carries."""
    return json.dumps(
        {METADATA_KEY: {"run_id": run_id, "strategy": strategy, "consumed": consumed}},
        sort_keys=True,
    )


def _recorded(text: str | None) -> dict[str, Any] | None:
    try:
        record = json.loads(text or "").get(METADATA_KEY)
    except (ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) and "consumed" in record else None


def marker_path(project: Project, table: Table) -> str:
    return f"{project.checkpoint_path(table, 'refresh')}/{MARKER}"


def record_without_commit(
    spark: SparkSession, project: Project, table: Table, consumed: dict[str, int]
) -> None:
    """After a refresh that wrote nothing: its inputs were consumed up to ``consumed``."""
    version = delta_log.latest_version(spark, project.table_path(table))
    text = json.dumps({"table_version": version, "consumed": consumed}, sort_keys=True)
    hadoop_fs.write_text(spark, marker_path(project, table), text)


def last_refresh(
    spark: SparkSession, path: str, version: int | None
) -> tuple[dict[str, int] | None, datetime | None]:
    """The input versions the last refresh consumed and when it committed, from the newest
    commit that carries them."""
    if version is None:
        return None, None
    for commit in delta_log.latest_commits(spark, path, _LOOK_BACK):
        record = _recorded(commit.user_metadata)
        if record is not None:
            at = commit.timestamp_ms
            when = datetime.fromtimestamp(at / 1000, UTC) if at is not None else None
            return {k: int(v) for k, v in record["consumed"].items()}, when
    return None, None


def _marker(spark: SparkSession, project: Project, table: Table, version: int | None):
    text = delta_log.read_text(spark, marker_path(project, table))
    try:
        marker = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(marker, dict) or marker.get("table_version") != version:
        return None  # the table has moved on since: its commits tell
    return {k: int(v) for k, v in marker.get("consumed", {}).items()}


def input_state(spark: SparkSession, path: str, ref: str, consumed: int | None) -> InputState:
    """An input now and what its commits after ``consumed`` did (each commit's log file)."""
    version = delta_log.latest_version(spark, path)
    if version is None or consumed is None or version <= consumed:
        return InputState(ref, version, consumed, data_changed=version != consumed)
    changed, rows = False, 0
    for number in range(consumed + 1, version + 1):
        commit = delta_log.commit(spark, path, number)
        if commit is None:  # cleaned up: assume the worst
            return InputState(ref, version, consumed, data_changed=True)
        changed = changed or commit.data_change
        if commit.data_change:
            rows += commit.rows_touched
    return InputState(ref, version, consumed, data_changed=changed, rows_changed=rows)


def read_incrementally(project: Project, table: Table) -> bool:
    """Whether a gold model follows this table's changes (names it under ``changes``)."""
    return any(
        other.spec.inputs[alias] == table.ref
        for other in project.tables.values()
        if other.layer == "gold" and other.spec.incremental
        for alias in other.spec.changes
    )


def read_state(spark: SparkSession, project: Project, table: Table) -> TableState:
    """The facts a plan needs, from the logs of the model's table and its inputs."""
    path = project.table_path(table)
    version = delta_log.latest_version(spark, path)
    consumed, at = last_refresh(spark, path, version)
    from_marker = _marker(spark, project, table, version)
    if from_marker is not None:
        consumed = from_marker
    inputs = {
        ref: input_state(
            spark, project.table_path(project.table(ref)), ref, (consumed or {}).get(ref)
        )
        for ref in table.spec.inputs.values()
    }
    return TableState(
        exists=version is not None,
        built=consumed is not None,
        inputs=inputs,
        last_refresh_at=at,
        read_incrementally=read_incrementally(project, table),
    )
