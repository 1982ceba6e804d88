"""Scheduling: a model with ``refresh_every`` is refreshed at most once per interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.storage import delta_log


def is_refresh_commit(commit: dict[str, Any]) -> bool:
    """The commits a refresh makes: the table's creation, a first build appended, a MERGE.
    Erasure overwrites (mode Overwrite), maintenance OPTIMIZEs and VACUUMs; neither is a
    refresh."""
    operation = commit.get("operation")
    mode = (commit.get("operationParameters") or {}).get("mode")
    return operation in ("CREATE TABLE", "MERGE") or (operation == "WRITE" and mode == "Append")


def next_refresh(spark: SparkSession, path: str, every: timedelta) -> datetime | None:
    """When a model refreshed at most once per ``every`` is due again (UTC): ``every`` after
    its last refresh commit. None: no such commit, due now.

    The commits are read from the log's files, newest first (a table's history would start
    Spark jobs, in every run that leaves the model alone). A commit whose file Delta has
    cleaned up (older than its log retention, 30 days by default) counts as no refresh.

    A refresh whose result equals the table commits nothing, so the model stays due and the
    next run with changes rebuilds it again.
    """
    latest = delta_log.latest_version(spark, path)
    for version in range(latest if latest is not None else -1, -1, -1):
        commit = delta_log.commit_info(spark, path, version)
        if is_refresh_commit(commit) and commit.get("timestamp") is not None:
            return datetime.fromtimestamp(commit["timestamp"] / 1000, UTC) + every
    return None
