"""Kafka tables kept up to date continuously: one query per topic with a processing-time
trigger, until asked to stop.

The same exactly-once machinery as the daily run (checkpoint, Delta transaction ids), so a
stop at any moment, even mid-batch, loses and doubles nothing: the interrupted batch's
offsets are in the checkpoint and its replay is skipped by Delta if it had committed.
Stopping waits for the batch in flight to finish first, so a clean stop replays nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from lakehouse import silver
from lakehouse.bronze import kafka
from lakehouse.config import Project, Table
from lakehouse.context import RunContext
from lakehouse.storage import delta_tables, exactly_once

log = logging.getLogger(__name__)


def kafka_tables(project: Project) -> list[Table]:
    return [
        t
        for t in project.in_dependency_order()
        if t.layer == "bronze" and t.spec.source.format == "kafka"
    ]


def silver_of(project: Project, bronze_refs: set[str]) -> list[Table]:
    return [
        t
        for t in project.in_dependency_order()
        if t.layer == "silver" and t.spec.source in bronze_refs
    ]


def start(spark: SparkSession, project: Project, table: Table, run_id: str, interval: str):
    if table.layer != "bronze" or table.spec.source.format != "kafka":
        raise ValueError(f"{table.ref} is not a bronze table read from Kafka")
    delta_tables.ensure_table(
        spark,
        project.table_path(table),
        kafka.bronze_schema(table),
        table.spec.partition_by,
        table.spec.table_properties,
    )
    writer, append = kafka.stream_writer(spark, project, table, run_id, {})
    return exactly_once.start_exactly_once(writer, table.ref, append, processingTime=interval)


def stop_gently(query: StreamingQuery, timeout: float = 120.0) -> None:
    """Let the batch in flight finish, then stop."""
    deadline = time.monotonic() + timeout
    while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
        time.sleep(0.1)
    query.stop()


def run(
    spark: SparkSession,
    project: Project,
    tables: list[Table],
    ctx: RunContext,
    interval: str,
    stop: threading.Event,
    with_silver: bool = False,
    say: Callable[[str], None] = print,
) -> None:
    """Stream ``tables`` until ``stop`` is set; with ``with_silver``, refresh the silver
    tables reading them once per ``interval`` too."""
    queries = {t.ref: start(spark, project, t, ctx.run_id, interval) for t in tables}
    say(
        f"streaming {', '.join(queries)} every {interval}; "
        f"stop with: kill -TERM {os.getpid()} (the batch in flight finishes first)"
    )
    downstream = silver_of(project, set(queries)) if with_silver else []
    seconds = delta_io_seconds(interval)
    next_refresh = time.monotonic() + seconds
    try:
        while not stop.wait(0.5):
            for ref, query in queries.items():
                if query.exception() is not None:
                    raise kafka.explain(project.table(ref), query.exception())
            if downstream and time.monotonic() >= next_refresh:
                for table in downstream:
                    result = silver.refresh(spark, project, table, ctx)
                    if result.rows_read:
                        say(f"{table.ref}: {result.rows_read} rows read")
                next_refresh = time.monotonic() + seconds
    finally:
        for ref, query in queries.items():
            stop_gently(query)
            say(f"{ref}: stopped")


def delta_io_seconds(interval: str) -> float:
    """Seconds of a trigger interval such as "10 seconds" or "1 minute"."""
    number, unit = interval.split()
    factor = {"second": 1, "minute": 60, "hour": 3600}[unit.rstrip("s")]
    return float(number) * factor
