"""Great Expectations' project kept in the warehouse when the warehouse is not on this disk.

GX's file-backed project (its validation results and HTML Data Docs) needs a local folder.
For a root on object storage that folder is a working copy: files it lacks are fetched from
``<root>/_quality/gx`` once per process (so the Data Docs index still lists earlier runs,
whichever machine made them), and what a validation wrote is copied back after it, through
Hadoop's FileSystem like every other path of the warehouse.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.storage import hadoop_fs

_CLOCK = ".mirror-clock"


def working_copy(cache: Path, remote: str) -> Path:
    """The local folder of the warehouse at ``remote``: one per warehouse, under ``cache``."""
    return cache / hashlib.sha1(remote.encode()).hexdigest()[:12]


def pull(spark: SparkSession, remote: str, local: Path) -> int:
    """Fetch the files of ``remote`` that ``local`` lacks; returns how many."""
    fs, top = hadoop_fs.file_system(spark, remote)
    if not fs.exists(top):
        return 0
    prefix = top.toUri().getPath().rstrip("/") + "/"
    fetched = 0
    files = fs.listFiles(top, True)
    while files.hasNext():
        path = files.next().getPath()
        target = local / path.toUri().getPath().removeprefix(prefix)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.copyToLocalFile(False, path, hadoop_fs.hadoop_path(spark, f"file:{target}"), True)
            fetched += 1
    return fetched


def push(spark: SparkSession, local: Path, remote: str, since_ns: int) -> int:
    """Copy the files of ``local`` changed after ``since_ns`` to ``remote``; returns the time
    (ns) to pass next, taken before the scan so nothing written during it is missed."""
    started = clock(local)
    fs, _ = hadoop_fs.file_system(spark, remote)
    for folder, _dirs, names in os.walk(local):
        for name in names:
            path = Path(folder) / name
            if name != _CLOCK and path.stat().st_mtime_ns > since_ns:
                target = f"{remote.rstrip('/')}/{path.relative_to(local)}"
                source = hadoop_fs.hadoop_path(spark, f"file:{path}")
                fs.copyFromLocalFile(False, True, source, hadoop_fs.hadoop_path(spark, target))
    return started


def clock(local: Path) -> int:
    """The file system's clock, read by touching a marker (the host clock may differ)."""
    marker = local / _CLOCK
    marker.touch()
    return marker.stat().st_mtime_ns - 1
