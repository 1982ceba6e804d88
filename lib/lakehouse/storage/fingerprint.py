"""A table's input fingerprint: whether it has work, decided before any stream or Spark job
starts.

A refresh that ended well leaves in its stream checkpoint what its inputs were when it
started (``inputs.json``): the Delta version of the table it reads, or for bronze a digest
of the landing folder's listing. A later run that finds its inputs still exactly so has
nothing to do, and says "up to date" after a few file listings instead of a stream.

Anything that cannot be judged this way (a listing option the check does not model, a
checkpoint without the file, a run that was killed) counts as work: the stream then runs as
before and finds what is new, or nothing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.config import Project, Table
from lakehouse.storage import delta_log, hadoop_fs

MARKER = "inputs.json"
# Listing options whose effect the digest does not reproduce: with one of them, always run.
_UNMODELLED = {"recursivefilelookup", "modifiedbefore", "modifiedafter", "basepath"}


def _expand_braces(pattern: str) -> list[str] | None:
    """Hadoop's ``{a,b}`` alternatives as separate fnmatch patterns; None when nested."""
    start = pattern.find("{")
    if start < 0:
        return None if "}" in pattern or "\\" in pattern else [pattern]
    end = pattern.find("}", start)
    if end < 0 or "{" in pattern[start + 1 : end]:
        return None
    expanded = []
    for choice in pattern[start + 1 : end].split(","):
        rest = _expand_braces(pattern[:start] + choice + pattern[end + 1 :])
        if rest is None:
            return None
        expanded += rest
    return expanded


def _visible(relative: str) -> bool:
    # Spark's file index skips names starting with "_" or "." at every level.
    return not any(part.startswith(("_", ".")) for part in relative.split("/") if part)


def _listing(spark: SparkSession, root: str) -> Iterator[tuple[str, int, int]]:
    """(path relative to ``root``, size, modification time in ms) of every visible file."""
    local = delta_log.local_path(root)
    if local is not None:
        for folder, dirs, files in os.walk(local):
            dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
            for name in files:
                full = os.path.join(folder, name)
                relative = os.path.relpath(full, local)
                if _visible(relative):
                    stat = os.stat(full)
                    yield relative, stat.st_size, stat.st_mtime_ns // 1_000_000
        return
    fs, top = hadoop_fs.file_system(spark, root)
    if not fs.exists(top):
        return
    prefix = top.toUri().getPath().rstrip("/") + "/"
    files = fs.listFiles(top, True)
    while files.hasNext():
        status = files.next()
        relative = status.getPath().toUri().getPath().removeprefix(prefix)
        if _visible(relative):
            yield relative, status.getLen(), status.getModificationTime()


def landing_digest(spark: SparkSession, root: str, options: dict[str, str]) -> str | None:
    """A digest of the files a bronze stream with these options would list under ``root``;
    None when an option makes the listing something this check does not reproduce."""
    if _UNMODELLED & {k.lower() for k in options}:
        return None
    glob = next((v for k, v in options.items() if k.lower() == "pathglobfilter"), None)
    patterns = _expand_braces(glob) if glob else ["*"]
    if patterns is None:
        return None
    digest = hashlib.sha1()
    for relative, size, modified in sorted(_listing(spark, root)):
        name = relative.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            digest.update(f"{relative}\t{size}\t{modified}\n".encode())
    return digest.hexdigest()


def observe_landing(
    spark: SparkSession, root: str, options: dict[str, str]
) -> dict[str, Any] | None:
    """What a bronze source's landing folder holds now, as its stream (with these reader
    options) would list it; None when that cannot be told cheaply."""
    digest = landing_digest(spark, root, options)
    return None if digest is None else {"landing": digest}


def observe_source(spark: SparkSession, project: Project, table: Table) -> dict[str, Any] | None:
    """The Delta version of the bronze table a silver table's stream reads; None when it does
    not exist yet. (Gold records what it consumed in its own commits: ``gold.state``.)"""
    source = table.spec.source
    version = delta_log.latest_version(spark, project.table_path(project.table(source)))
    return None if version is None else {source: version}


def _marker(project: Project, table: Table) -> str:
    return f"{project.checkpoint_path(table)}/{MARKER}"


def up_to_date(
    spark: SparkSession, project: Project, table: Table, observed: dict[str, Any] | None
) -> bool:
    """True when the table exists and its inputs are what its last complete refresh saw."""
    if observed is None or delta_log.latest_version(spark, project.table_path(table)) is None:
        return False
    text = delta_log.read_text(spark, _marker(project, table))
    return text is not None and json.loads(text) == observed


def record(
    spark: SparkSession, project: Project, table: Table, observed: dict[str, Any] | None
) -> None:
    """After a refresh that ended well: its inputs were at least ``observed``. Written by
    rename (locally), so a crash leaves the old marker or the new one, never half of one."""
    if observed is None:
        return
    text = json.dumps(observed, sort_keys=True)
    hadoop_fs.write_text(spark, _marker(project, table), text)
