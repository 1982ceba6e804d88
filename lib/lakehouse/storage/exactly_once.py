"""Streams whose micro-batches commit to Delta exactly once: each batch's writes carry a Delta
transaction id (the query's id and the batch's), so a batch replayed after a crash writes
nothing twice."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

# A run takes what its input committed since the last run in one micro-batch. Each batch costs
# the same fixed work (quality checks, touched keys, a MERGE), and Delta's default of 1,000
# files a batch split a year's first load in two: the second batch redid, key by key, what
# the first build had already read whole.
WHOLE_BACKLOG = {"maxFilesPerTrigger": "1000000"}


@contextmanager
def idempotent_writes(spark: SparkSession, app_id: str, version: int) -> Iterator[None]:
    """Tag the Delta commits made inside with (app_id, version): Delta skips a commit whose
    version it has already seen for that app id, so a replayed micro-batch writes nothing."""
    spark.conf.set("spark.databricks.delta.write.txnAppId", app_id)
    spark.conf.set("spark.databricks.delta.write.txnVersion", str(version))
    try:
        yield
    finally:
        spark.conf.unset("spark.databricks.delta.write.txnAppId")
        spark.conf.unset("spark.databricks.delta.write.txnVersion")


@dataclass(frozen=True)
class StreamResult:
    batches: int
    input_rows: int


def run_available_now(writer: DataStreamWriter) -> StreamResult:
    """Process everything new since the checkpoint, then stop."""
    query = writer.trigger(availableNow=True).start()
    _remember(query)
    return _await(query)


_started = threading.local()


def started_streams() -> list[str]:
    """The job groups (run ids) of the streams this thread started since it last asked:
    a stream's micro-batches run in a thread and job group of their own."""
    groups = getattr(_started, "groups", [])
    _started.groups = []
    return groups


def _remember(query: StreamingQuery) -> None:
    _started.groups = [*getattr(_started, "groups", []), str(query.runId)]


def _await(query: StreamingQuery) -> StreamResult:
    query.awaitTermination()
    progress = [p for p in query.recentProgress if p.get("numInputRows") is not None]
    batches = [p for p in progress if p["numInputRows"] > 0]
    return StreamResult(batches=len(batches), input_rows=sum(p["numInputRows"] for p in progress))


def for_each_batch_exactly_once(
    writer: DataStreamWriter, app_prefix: str, handle: Callable[[DataFrame, int], None]
) -> StreamResult:
    """foreachBatch whose Delta commits are idempotent per (query id, batch id).

    The app id includes the query id, which lives in the checkpoint: a replayed batch after a
    crash is skipped by Delta, while a new checkpoint (a deliberate reprocessing) is not.

    An exception ``handle`` raises reaches the caller as itself: Spark would hand it back
    wrapped in a ``StreamingQueryException`` that keeps only its text, so it is kept here and
    raised again once the query has stopped.
    """
    raised: list[BaseException] = []
    query = start_exactly_once(writer, app_prefix, handle, raised, availableNow=True)
    try:
        return _await(query)
    except StreamingQueryException:
        if raised:
            raise raised[0] from None
        raise


def start_exactly_once(
    writer: DataStreamWriter,
    app_prefix: str,
    handle: Callable[[DataFrame, int], None],
    raised: list[BaseException] | None = None,
    **trigger: object,
) -> StreamingQuery:
    """Start the query of ``for_each_batch_exactly_once`` with any trigger (e.g.
    ``processingTime="10 seconds"`` for a stream that runs until stopped); what ``handle``
    raises is also appended to ``raised``."""
    started = threading.Event()
    holder: dict[str, str] = {}
    kept = raised if raised is not None else []

    def on_batch(batch: DataFrame, batch_id: int) -> None:
        started.wait()
        if batch.isEmpty():  # e.g. the initial snapshot of a table just created empty
            return
        try:
            with idempotent_writes(batch.sparkSession, f"{app_prefix}:{holder['id']}", batch_id):
                handle(batch, batch_id)
        except BaseException as exc:
            kept.append(exc)
            raise

    query = writer.foreachBatch(on_batch).trigger(**trigger).start()
    _remember(query)
    holder["id"] = str(query.id)
    started.set()
    return query
