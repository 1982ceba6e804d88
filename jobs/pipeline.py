"""Run bronze, silver and gold (or a selection) in dependency order and print what they hold.

Exit codes: 0 success, 1 error, 2 bad command line or configuration, 3 data-quality failure,
4 another run holds the warehouse.
"""

import sys
from datetime import date

from lakehouse import errors, pipeline
from lakehouse.ops.recorded_run import run_recorded
from lakehouse.runtime import cli, job


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


def days_from(args, p) -> tuple[date, ...]:
    if args.date and (args.date_from or args.date_to):
        p.error("use --date or --from/--to, not both")
    if args.date:
        return (args.date,)
    if args.date_from or args.date_to:
        if not (args.date_from and args.date_to):
            p.error("a range needs both --from and --to")
        try:
            return pipeline.days_between(args.date_from, args.date_to)
        except ValueError as exc:
            p.error(str(exc))
    return ()


def show_plan(spark, project, tables, selection, ctx) -> int:
    plans = pipeline.gold_plans(spark, project, tables, ctx)
    print(pipeline.format_plan(tables, selection, ctx, plans))
    return errors.EXIT_OK


@job.exits
def main() -> int:
    p = arguments()
    args = p.parse_args()
    if (args.upstream or args.downstream) and not args.table:
        p.error("--upstream and --downstream need --table")
    selection = pipeline.Selection(
        tables=tuple(args.table or ()),
        upstream=args.upstream,
        downstream=args.downstream,
        layers=tuple(args.layer or ()),
    )
    say = pipeline.json_progress() if args.log_format == "json" else None
    try:
        project, ctx = job.configure(args, days=days_from(args, p), refresh_now=args.refresh_now)
        tables = pipeline.select(project, selection)
        pipeline.check_days(tables, ctx.days)
    except (KeyError, ValueError) as exc:
        raise job.usage_error(exc) from None
    if args.plan:
        if "://" in project.root and not project.root.startswith("file:"):
            # The plans read the Delta logs through the warehouse's file system: Spark's.
            return job.run(
                "plan",
                args,
                lambda work: show_plan(work.spark, project, tables, selection, ctx),
                configured=(project, ctx),
                lock=False,
                needs_key=False,
            )
        return show_plan(None, project, tables, selection, ctx)

    def tell(message: str) -> None:
        if say:
            say({"event": "message", "message": message})
        else:
            print(message, flush=True)

    return job.run(
        "pipeline",
        args,
        lambda work: run_recorded(
            work.spark, work.project, work.ctx, work.lock, tables, selection, say, args.parallelism
        ),
        configured=(project, ctx),
        wait=args.wait,
        tell=tell,
    )


if __name__ == "__main__":
    sys.exit(main())
