"""A pipeline run as the job makes it: recorded in the run log from start to end, with an
exit code an orchestrator can act on."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from pyspark.sql import SparkSession

from lakehouse import errors
from lakehouse.config import Project, Table
from lakehouse.context import RunContext
from lakehouse.ops import run_log
from lakehouse.ops.warehouse_lock import WarehouseLock
from lakehouse.pipeline.execution import DEFAULT_PARALLELISM, Event, PipelineFailed, run
from lakehouse.pipeline.reporting import console_progress, format_reports
from lakehouse.pipeline.selection import Selection, describe_run
from lakehouse.results import Status


def run_recorded(
    spark: SparkSession,
    project: Project,
    ctx: RunContext,
    lock: WarehouseLock | None,
    tables: list[Table],
    selection: Selection,
    say: Callable[[Event], None] | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
) -> int:
    """Run ``tables`` under the held lock; ``say`` (JSON events) replaces the console lines."""
    log = run_log.of(spark, project)
    log.ensure()
    detail = describe_run(selection, ctx)
    if lock is not None and lock.taken_over is not None:
        dead = lock.taken_over
        message = f"took over the lock of {dead.describe()}, which is gone"
        if say:
            say({"event": "lock_taken_over", "message": message})
        else:
            print(message, flush=True)
        log.append(
            run_log.LogEntry(
                run_id=dead.run_id,
                job=dead.job,
                status=Status.ABANDONED.value,
                started_at=run_log.now(),
                error=f"process ended without finishing; lock taken over by run {ctx.run_id}",
            )
        )
    started, t0 = run_log.now(), time.monotonic()
    # The running row goes with the first table that does something: a run with nothing new
    # then commits to the run log once, at its end.
    pending = run_log.Pending(log)
    pending.add(
        run_log.LogEntry(
            run_id=ctx.run_id,
            job="pipeline",
            status=Status.RUNNING.value,
            started_at=started,
            detail=detail,
        )
    )
    headline = f"run {ctx.run_id}: warehouse {project.root}, {len(tables)} tables"
    if say:
        say({"event": "run_started", "message": headline, "run_id": ctx.run_id})
    else:
        print(headline, flush=True)
    status, code, error, reports = Status.SUCCEEDED, errors.EXIT_OK, None, []
    try:
        reports = run(
            spark,
            project,
            ctx,
            tables,
            on_event=say or console_progress(),
            on_finished=pending.recorder(ctx.run_id),
            parallelism=parallelism,
            before_table=lock.check if lock is not None else None,
        )
    except PipelineFailed as exc:
        reports = exc.reports
        status = Status.DATA_QUALITY_FAILED if exc.data_quality else Status.FAILED
        code = errors.EXIT_DATA_QUALITY if exc.data_quality else errors.EXIT_ERROR
        error = str(exc)
    except Exception as exc:
        status, code, error = Status.FAILED, errors.EXIT_ERROR, f"{type(exc).__name__}: {exc}"
    pending.add(
        run_log.LogEntry(
            run_id=ctx.run_id,
            job="pipeline",
            status=status.value,
            started_at=started,
            ended_at=run_log.now(),
            seconds=time.monotonic() - t0,
            detail=detail,
            error=error,
        ),
        flush=True,
    )
    if say:
        say({"event": f"run_{status}", "run_id": ctx.run_id, "exit_code": code, "error": error})
    else:
        if reports:
            print(format_reports(reports))
        print(f"run {ctx.run_id}: {status} in {time.monotonic() - t0:.0f}s", flush=True)
        if error:
            print(error, file=sys.stderr)
    return code
