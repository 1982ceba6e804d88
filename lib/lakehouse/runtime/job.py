"""What every job does around its own work, written once: read the configuration (exit 2 on
an error), check the profile's secrets, start Spark, hold the warehouse lock (exit 4 when
another run has it) and turn what went wrong into an exit code.

A job file keeps only its arguments and its call into the library::

    def main() -> int:
        args = arguments().parse_args()
        return job.run("maintenance", args, lambda w: maintenance.run(w.spark, w.project, w.ctx))
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from lakehouse import errors
from lakehouse.config import ConfigError, Project, load_project
from lakehouse.config.secrets import MissingSecret
from lakehouse.context import RunContext
from lakehouse.ops.warehouse_lock import LockBusy, LockOwner, WarehouseLock, is_local, lock_path
from lakehouse.runtime.session import build_session
from lakehouse.silver import pii
from lakehouse.storage import object_store


class JobStopped(Exception):
    """Stop the job before it does anything, with this exit code and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def exits(main: Callable[[], int]) -> Callable[[], int]:
    """Decorate a job's ``main``: a ``JobStopped`` raised anywhere in it becomes its message
    on stderr and its exit code."""

    @functools.wraps(main)
    def wrapped() -> int:
        try:
            return main()
        except JobStopped as exc:
            print(str(exc), file=sys.stderr)
            return exc.code

    return wrapped


def usage_error(exc: Exception) -> JobStopped:
    """A bad selection or option found before anything ran: exit 2."""
    return JobStopped(errors.EXIT_USAGE, f"configuration error: {exc}")


@dataclass(frozen=True)
class Work:
    """What a job's body gets: the configuration, the run's options, Spark and the lock."""

    project: Project
    ctx: RunContext
    spark: SparkSession
    lock: WarehouseLock | None

    def read(self, ref: str) -> DataFrame:
        """A table of the warehouse; one that cannot be read stops the job, naming it."""
        path = self.project.table_path(self.project.table(ref))
        try:
            return self.spark.read.format("delta").load(path)
        except Exception as err:  # a missing table: say which, not a stack trace
            raise JobStopped(errors.EXIT_ERROR, f"cannot read {ref} at {path}: {err}") from None


def configure(
    args: argparse.Namespace, needs_key: bool = True, **options
) -> tuple[Project, RunContext]:
    """The configuration and the run's context (``options``: days, refresh_now ...).

    The profile is checked here, and so are its secrets: outside ``local`` a job that may
    write (``needs_key``) stops without the PII key before it writes anything, whatever it
    was going to do.
    """
    try:
        project = load_project(Path(args.conf))
        profile = args.profile or project.settings.default_profile
        project.profile(profile)  # an unknown profile is a configuration error
    except (ConfigError, KeyError, ValueError) as exc:
        raise usage_error(exc) from None
    try:
        if needs_key:
            pii.require_key(profile, can_make=object_store.is_local(project.root))
    except pii.MissingSecretError as exc:
        raise JobStopped(errors.EXIT_USAGE, f"not started: {exc}") from None
    return project, RunContext(run_id=args.run_id, profile=profile, **options)


def run(
    name: str,
    args: argparse.Namespace,
    body: Callable[[Work], int],
    *,
    configured: tuple[Project, RunContext] | None = None,
    lock: bool = True,
    needs_key: bool = True,
    wait: float = 0,
    tell: Callable[[str], None] = print,
    log_level: str = "WARN",
) -> int:
    """Run ``body`` with the warehouse held for ``name``; its return value is the exit code.

    On a local disk the lock is taken before Spark starts, so a refused run costs nothing;
    on object storage it needs Spark's file system, so it is taken right after.
    """
    try:
        project, ctx = configured or configure(args, needs_key)
        where = lock_path(project.root, project.settings.operations.lock)
        stale = project.settings.operations.lock_stale_seconds
        owner = LockOwner(run_id=ctx.run_id, job=name)
        held: WarehouseLock | None = None
        try:
            if lock and is_local(where):
                held = WarehouseLock(where, owner, stale)
                held.acquire(wait, on_wait=lambda h: tell(f"waiting: {LockBusy(where, h)}"))
            try:
                spark = build_session(project, ctx.profile, app_name=f"lakehouse-{name}")
            except MissingSecret as exc:  # the store's or the metastore's credentials
                raise JobStopped(errors.EXIT_USAGE, f"not started: {exc}") from None
            spark.sparkContext.setLogLevel(log_level)
            if lock and held is None:
                held = WarehouseLock(where, owner, stale, spark=spark)
                held.acquire(wait, on_wait=lambda h: tell(f"waiting: {LockBusy(where, h)}"))
            return body(Work(project, ctx, spark, held))
        finally:
            if held is not None:
                held.release()
    except JobStopped as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except LockBusy as exc:
        print(f"not started: {exc}", file=sys.stderr)
        return errors.EXIT_BUSY
