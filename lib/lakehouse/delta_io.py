"""Small building blocks over Delta Lake shared by every layer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery
from pyspark.sql.types import StructType

from lakehouse import delta_log

CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}
# A run takes what its input committed since the last run in one micro-batch. Each batch costs
# the same fixed work (quality checks, touched keys, a MERGE), and Delta's default of 1,000
# files a batch split a year's first load in two: the second batch redid, key by key, what
# the first build had already read whole.
WHOLE_BACKLOG = {"maxFilesPerTrigger": "1000000"}


def ensure_table(
    spark: SparkSession,
    path: str,
    schema: StructType,
    partition_by: tuple[str, ...] = (),
    properties: dict[str, str] | None = None,
) -> DeltaTable:
    """Create the table at ``path`` if it does not exist yet, so readers never meet a gap."""
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    return builder.execute()


def exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def current_version(spark: SparkSession, path: str) -> int | None:
    """The table's latest version (None: no table), from its log's listing: ``history(1)``
    would start a Spark job, and every refresh asks this."""
    return delta_log.latest_version(spark, path)


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
    return _await(query)


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
    holder["id"] = str(query.id)
    started.set()
    return query
