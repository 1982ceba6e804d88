"""Run bronze, silver and gold (or a selection) in dependency order and print what they hold.

Exit codes: 0 success, 1 error, 2 bad command line or configuration, 3 data-quality failure,
4 another run holds the warehouse.
"""

import sys
import time
from datetime import date

from lakehouse import cli, errors, pipeline, runlog
from lakehouse.config import ConfigError, load_project
from lakehouse.lock import LockBusy, LockOwner, WarehouseLock, is_local, lock_path
from lakehouse.session import build_session


def arguments():
    p = cli.parser(__doc__)
    p.add_argument("--layer", action="append", choices=["bronze", "silver", "gold"])
    p.add_argument("--table", action="append", metavar="LAYER.NAME", help="run this table")
    p.add_argument("--upstream", action="store_true", help="with --table: and what it reads")
    p.add_argument("--downstream", action="store_true", help="with --table: and what reads it")
    p.add_argument(
        "--date",
        type=date.fromisoformat,
        help="bronze takes only the files landed for this day (name carries the date)",
    )
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, help="first day of a range")
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, help="last day of a range")
    p.add_argument(
        "--plan", action="store_true", help="print what would run, in order; run nothing"
    )
    p.add_argument(
        "--refresh-now",
        action="store_true",
        help="refresh gold models with refresh_every (e.g. weekly) even if not due yet",
    )
    p.add_argument("--log-format", choices=["console", "json"], default="console")
    p.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="if another run holds the warehouse, wait this long for it (default: stop at once)",
    )
    p.add_argument(
        "--parallelism",
        type=int,
        default=pipeline.DEFAULT_PARALLELISM,
        help=f"tables refreshed side by side (default {pipeline.DEFAULT_PARALLELISM})",
    )
    return p


def selection_from(args, p) -> pipeline.Selection:
    if (args.upstream or args.downstream) and not args.table:
        p.error("--upstream and --downstream need --table")
    if args.date and (args.date_from or args.date_to):
        p.error("use --date or --from/--to, not both")
    days: tuple[date, ...] = ()
    if args.date:
        days = (args.date,)
    elif args.date_from or args.date_to:
        if not (args.date_from and args.date_to):
            p.error("a range needs both --from and --to")
        days = pipeline.days_between(args.date_from, args.date_to)
    return pipeline.Selection(
        tables=tuple(args.table or ()),
        upstream=args.upstream,
        downstream=args.downstream,
        layers=tuple(args.layer or ()),
        days=days,
        refresh_now=args.refresh_now,
    )


def main() -> int:
    p = arguments()
    args = p.parse_args()
    say = pipeline.json_progress() if args.log_format == "json" else None

    def tell(message: str, **fields) -> None:
        if say:
            say({"event": fields.pop("event", "message"), "message": message, **fields})
        else:
            print(message, flush=True)

    try:
        project = load_project(args.conf)
        selection = selection_from(args, p)
        tables = pipeline.select(project, selection)
    except (ConfigError, KeyError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return errors.EXIT_USAGE
    if args.plan:
        print(pipeline.format_plan(tables, selection))
        return errors.EXIT_OK

    ops = project.settings.operations
    owner = LockOwner(run_id=args.run_id, job="pipeline")
    where = lock_path(project.root, ops.lock)
    lock = None
    try:
        # On a local disk the lock is taken before Spark starts, so a refused run costs nothing.
        if is_local(where):
            lock = WarehouseLock(where, owner, ops.lock_stale_seconds)
            lock.acquire(args.wait, on_wait=lambda h: tell(f"waiting: {LockBusy(where, h)}"))
        spark = build_session(project, args.profile, app_name="lakehouse-pipeline")
        spark.sparkContext.setLogLevel("WARN")
        if lock is None:
            lock = WarehouseLock(where, owner, ops.lock_stale_seconds, spark=spark)
            lock.acquire(args.wait, on_wait=lambda h: tell(f"waiting: {LockBusy(where, h)}"))
        return run(args, project, spark, lock, tables, selection, say, tell)
    except LockBusy as exc:
        print(f"not started: {exc}", file=sys.stderr)
        return errors.EXIT_BUSY
    finally:
        if lock is not None:
            lock.release()


def run(args, project, spark, lock, tables, selection, say, tell) -> int:
    log = runlog.RunLog(spark, runlog.run_log_path(project))
    log.ensure()
    if lock.taken_over is not None:
        dead = lock.taken_over
        tell(f"took over the lock of {dead.describe()}, which is gone", event="lock_taken_over")
        log.append(
            runlog.LogEntry(
                run_id=dead.run_id,
                job=dead.job,
                status=runlog.ABANDONED,
                started_at=runlog.now(),
                error=f"process ended without finishing; lock taken over by run {args.run_id}",
            )
        )
    started, t0 = runlog.now(), time.monotonic()
    log.append(
        runlog.LogEntry(
            run_id=args.run_id,
            job="pipeline",
            status=runlog.RUNNING,
            started_at=started,
            detail=selection.describe(),
        )
    )
    tell(
        f"run {args.run_id}: warehouse {project.root}, {len(tables)} tables",
        event="run_started",
        run_id=args.run_id,
    )
    status, code, error, reports = runlog.SUCCEEDED, errors.EXIT_OK, None, []
    try:
        reports = pipeline.run(
            spark,
            project,
            args.run_id,
            tables=tables,
            on_event=say or pipeline.console_progress(),
            log=log,
            parallelism=args.parallelism,
            before_table=lock.check,
        )
    except pipeline.PipelineFailed as exc:
        reports = exc.reports
        status = runlog.DATA_QUALITY_FAILED if exc.data_quality else runlog.FAILED
        code = errors.EXIT_DATA_QUALITY if exc.data_quality else errors.EXIT_ERROR
        error = str(exc)
    except Exception as exc:
        status, code, error = runlog.FAILED, errors.EXIT_ERROR, f"{type(exc).__name__}: {exc}"
    log.append(
        runlog.LogEntry(
            run_id=args.run_id,
            job="pipeline",
            status=status,
            started_at=started,
            ended_at=runlog.now(),
            seconds=time.monotonic() - t0,
            detail=selection.describe(),
            error=error,
        )
    )
    if say:
        say({"event": "run_" + status, "run_id": args.run_id, "exit_code": code, "error": error})
    else:
        if reports:
            print(pipeline.format_reports(reports))
        print(f"run {args.run_id}: {status} in {time.monotonic() - t0:.0f}s", flush=True)
        if error:
            print(error, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
