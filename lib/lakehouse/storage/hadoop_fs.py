"""Spark's JVM where PySpark has no Python API: Hadoop's FileSystem and Delta's log.

Why each is needed:

- ``file_system``, ``exists``: the same code must reach a laptop's disk, HDFS and object
  stores, and only Hadoop's FileSystem, configured as Spark is, reaches them all. Bronze
  checks the landing folder, erasure rewrites landed files in place (keeping their times, so
  the file stream does not take them again), maintenance counts data files, the lock lives
  beside the warehouse, contracts read a file's header or footer without reading the file.
- ``parquet_footer_schema``: a Parquet file's schema from its footer alone.
- ``checkpoint_delta_log``, ``clear_delta_log_cache``: Delta has no Python API for them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession


def jvm(spark: SparkSession) -> Any:
    return spark.sparkContext._jvm


def hadoop_conf(spark: SparkSession) -> Any:
    return spark.sparkContext._jsc.hadoopConfiguration()


def hadoop_path(spark: SparkSession, path: str) -> Any:
    return jvm(spark).org.apache.hadoop.fs.Path(path)


def file_system(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(FileSystem, Path) for ``path``, whatever its scheme."""
    p = hadoop_path(spark, path)
    return p.getFileSystem(hadoop_conf(spark)), p


def exists(spark: SparkSession, path: str) -> bool:
    fs, p = file_system(spark, path)
    return bool(fs.exists(p))


def checkpoint_delta_log(spark: SparkSession, path: str) -> None:
    jvm(spark).org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path).checkpoint()


def clear_delta_log_cache(spark: SparkSession) -> None:
    """Forget every table's cached snapshot, as a new process would start."""
    jvm(spark).org.apache.spark.sql.delta.DeltaLog.clearCache()


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write a small file whole: by rename on a local disk, so a crash leaves the old file or
    the new one, never half of one; an object store's put is whole by itself."""
    local = local_path(path)
    if local is not None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{local}.tmp"
        Path(tmp).write_text(text, encoding="utf-8")
        os.replace(tmp, local)
        return
    fs, p = file_system(spark, path)
    out = fs.create(p, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()


def local_path(path: str) -> str | None:
    """The path on this machine's disk, for a ``file:`` URI or a plain absolute path."""
    if path.startswith("file:"):
        return "/" + path.removeprefix("file:").lstrip("/")
    return path if path.startswith("/") else None
