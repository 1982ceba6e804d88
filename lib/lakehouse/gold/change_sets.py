"""One change set per input and run: the rows an input's change data feed holds between the
version the models consumed and the version now, read once as a batch and shared by every
model of the run that reads them.

Each model runs in a Spark session of its own (its temp views and commit settings stay its
own). A DataFrame cached in one session is not found by an equal read in another (a Delta
relation is tied to the session that read it), so each change set is cached once and
published as a global temporary view, which every session of the application resolves to
that same cached plan.

Example::

    changes = for_run(spark, "20270301T060000Z-ab12cd34")
    rows = changes.rows(model_session, "/lake/silver/orders", 41, 42)   # insert, update_*, delete
"""

from __future__ import annotations

import threading
import uuid

from pyspark.sql import DataFrame, SparkSession

# A version's rows in the change feed: the first one, then each newer one.
NEW_VERSION = ("insert", "update_postimage")
CHANGE_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")


class ChangeSets:
    def __init__(self, spark: SparkSession):
        self._spark = spark
        self._views: dict[tuple[str, int, int], tuple[str, DataFrame]] = {}
        self._lock = threading.Lock()

    def rows(self, session: SparkSession, path: str, start: int, end: int) -> DataFrame:
        """The change feed of the table at ``path`` from version ``start`` to ``end``
        (inclusive), as a DataFrame of ``session``; read and cached on first use."""
        key = (path, start, end)
        with self._lock:
            if key not in self._views:
                changes = (
                    self._spark.read.format("delta")
                    .option("readChangeFeed", "true")
                    .option("startingVersion", start)
                    .option("endingVersion", end)
                    .load(path)
                    .persist()
                )
                name = f"changes_{uuid.uuid4().hex[:12]}"
                changes.createOrReplaceGlobalTempView(name)
                self._views[key] = (name, changes)
            name = self._views[key][0]
        return session.table(f"global_temp.{name}")

    def release(self) -> None:
        with self._lock:
            for name, changes in self._views.values():
                self._spark.catalog.dropGlobalTempView(name)
                changes.unpersist()
            self._views.clear()


_by_run: dict[str, ChangeSets] = {}
_registry = threading.Lock()


def for_run(spark: SparkSession, run_id: str) -> ChangeSets:
    """The change sets of run ``run_id``; a new run releases those of the runs before it."""
    with _registry:
        if run_id not in _by_run:
            for old in list(_by_run):
                _by_run.pop(old).release()
            _by_run[run_id] = ChangeSets(spark)
        return _by_run[run_id]


def release(run_id: str) -> None:
    """At a run's end: its change sets leave the cache."""
    with _registry:
        sets = _by_run.pop(run_id, None)
    if sets is not None:
        sets.release()
