"""A Delta table's log read as files, for what must not cost a Spark job: the latest version
and what the latest commits did (Delta's ``history`` API starts a job for each)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.storage import hadoop_fs

_LOG_FILE = re.compile(r"^(\d{20})\.json$")


local_path = hadoop_fs.local_path


def latest_version(spark: SparkSession, path: str) -> int | None:
    """The table's latest version from its log folder's listing; None when there is no table.

    Delta's own API (``history``) starts a Spark job; a listing does not.
    """
    log = f"{path.rstrip('/')}/_delta_log"
    local = local_path(log)
    if local is not None:
        try:
            names = os.listdir(local)
        except FileNotFoundError:
            return None
    else:
        fs, folder = hadoop_fs.file_system(spark, log)
        if not fs.exists(folder):
            return None
        names = [status.getPath().getName() for status in fs.listStatus(folder)]
    versions = [int(m.group(1)) for m in map(_LOG_FILE.match, names) if m]
    return max(versions) if versions else None


def read_text(spark: SparkSession, path: str) -> str | None:
    local = local_path(path)
    if local is not None:
        try:
            return Path(local).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
    fs, p = hadoop_fs.file_system(spark, path)
    if not fs.exists(p):
        return None
    stream = fs.open(p)
    try:
        return hadoop_fs.jvm(spark).org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def commit_info(spark: SparkSession, path: str, version: int) -> dict[str, Any]:
    """The ``commitInfo`` of one commit (operation, operationMetrics ...); {} if it has none."""
    text = read_text(spark, f"{path.rstrip('/')}/_delta_log/{version:020d}.json") or ""
    for line in text.splitlines():
        action = json.loads(line) if line.strip() else {}
        if "commitInfo" in action:
            return action["commitInfo"]
    return {}


@dataclass(frozen=True)
class Commit:
    """What one commit did, from its log file alone."""

    version: int
    operation: str | None
    timestamp_ms: int | None
    user_metadata: str | None
    metrics: dict[str, str] = field(default_factory=dict)
    # Whether it changed data (OPTIMIZE, a statistics run or erasure's dataChange=false
    # rewrite do not): only such commits have rows in the change data feed.
    data_change: bool = False

    @property
    def rows_touched(self) -> int:
        """Rows it wrote, updated or deleted, by its own metrics."""
        names = (
            "numOutputRows",
            "numTargetRowsInserted",
            "numTargetRowsUpdated",
            "numTargetRowsDeleted",
            "numDeletedRows",
        )
        if self.operation == "MERGE":  # its numOutputRows counts rewritten, unchanged rows too
            names = names[1:]
        return sum(int(self.metrics.get(n, 0) or 0) for n in names)


def commit(spark: SparkSession, path: str, version: int) -> Commit | None:
    """The commit ``version`` of the table at ``path``; None when its file is gone (cleaned up
    after the log's retention) or was never written."""
    text = read_text(spark, f"{path.rstrip('/')}/_delta_log/{version:020d}.json")
    if text is None:
        return None
    info: dict[str, Any] = {}
    data_change = False
    for line in text.splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        if "commitInfo" in action:
            info = action["commitInfo"]
        for kind in ("add", "remove", "cdc"):
            if kind in action and action[kind].get("dataChange", kind == "cdc"):
                data_change = True
    return Commit(
        version=version,
        operation=info.get("operation"),
        timestamp_ms=info.get("timestamp"),
        user_metadata=info.get("userMetadata"),
        metrics=info.get("operationMetrics") or {},
        data_change=data_change,
    )


def latest_commits(spark: SparkSession, path: str, look_back: int = 50) -> Iterator[Commit]:
    """The table's commits, newest first, at most ``look_back`` of them, while their files
    last (a commit older than the log's retention is cleaned up)."""
    version = latest_version(spark, path)
    if version is None:
        return
    for number in range(version, max(-1, version - look_back), -1):
        found = commit(spark, path, number)
        if found is None:
            return
        yield found


def last_commit_rows(spark: SparkSession, path: str) -> int:
    """Rows the table's latest commit wrote (its ``numOutputRows``)."""
    last = next(latest_commits(spark, path, 1), None)
    return int(last.metrics.get("numOutputRows", 0) or 0) if last else 0
