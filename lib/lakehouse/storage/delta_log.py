"""A Delta table's log read as files, for what must not cost a Spark job: the latest version
and what the latest commits did (Delta's ``history`` API starts a job for each)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.storage import hadoop_fs

_LOG_FILE = re.compile(r"^(\d{20})\.json$")


def local_path(path: str) -> str | None:
    if path.startswith("file:"):
        return "/" + path.removeprefix("file:").lstrip("/")
    return path if path.startswith("/") else None


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
