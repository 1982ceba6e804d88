"""OPTIMIZE, VACUUM and statistics for every table (or a selection), as each table's YAML
`maintenance:` block says (default: `operations.maintenance` in lakehouse.yaml).

Takes the warehouse lock like a pipeline run: OPTIMIZE rewrites files a MERGE may be reading.
Exit codes as for `pipeline`: 0 done, 1 a table failed, 2 bad arguments, 4 warehouse busy.
"""

import json
import sys
import time

from lakehouse import errors, pipeline
from lakehouse.ops import maintenance, run_log
from lakehouse.runtime import job
from lakehouse.runtime.cli import parser


@job.exits
def main() -> int:
    p = parser(__doc__)
    p.add_argument("--layer", action="append", choices=["bronze", "silver", "gold"])
    p.add_argument("--table", action="append", metavar="LAYER.NAME")
    p.add_argument("--plan", action="store_true", help="print what each table would get")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS")
    args = p.parse_args()
    try:
        project, ctx = job.configure(args)
        tables = pipeline.select(
            project,
            pipeline.Selection(tables=tuple(args.table or ()), layers=tuple(args.layer or ())),
        )
    except (KeyError, ValueError) as exc:
        raise job.usage_error(exc) from None
    ops = project.settings.operations
    # The run log is a table too; it grows by a few small files every run.
    targets = [(t.ref, project.table_path(t), maintenance.settings_for(project, t)) for t in tables]
    if not args.table and not args.layer:
        targets.append(("run_log", run_log.run_log_path(project), ops.maintenance))
    if args.plan:
        for name, _, spec in targets:
            print(f"{name}: {spec}")
        return errors.EXIT_OK
    return job.run(
        "maintenance",
        args,
        lambda work: run(work.spark, work.project, work.ctx.run_id, targets),
        configured=(project, ctx),
        wait=args.wait,
    )


def run(spark, project, run_id, targets) -> int:
    log = run_log.of(spark, project)
    log.ensure()
    started, t0 = run_log.now(), time.monotonic()
    log.append(
        run_log.LogEntry(
            run_id=run_id, job="maintenance", status=run_log.RUNNING, started_at=started
        )
    )
    failed = []
    for name, path, spec in targets:
        table_started = run_log.now()
        if not maintenance.DeltaTable.isDeltaTable(spark, path):
            print(f"  -- {name}: no table yet", flush=True)
            continue
        try:
            result = maintenance.maintain(spark, name, path, spec)
        except Exception as exc:
            failed.append(name)
            print(f"  !! {name}: {str(exc).splitlines()[0]}", flush=True)
            log.append(
                run_log.LogEntry(
                    run_id=run_id,
                    job="maintenance",
                    status=run_log.FAILED,
                    table=name,
                    started_at=table_started,
                    ended_at=run_log.now(),
                    error=str(exc),
                )
            )
            continue
        print(f"  ok {name}: {result.describe()} ({result.seconds:.1f}s)", flush=True)
        log.append(
            run_log.LogEntry(
                run_id=run_id,
                job="maintenance",
                status=run_log.SUCCEEDED,
                table=name,
                layer=name.split(".")[0] if "." in name else None,
                started_at=table_started,
                ended_at=run_log.now(),
                seconds=result.seconds,
                version=result.version,
                detail=json.dumps({"done": result.describe(), "statistics": result.statistics}),
            )
        )
    status = run_log.FAILED if failed else run_log.SUCCEEDED
    log.append(
        run_log.LogEntry(
            run_id=run_id,
            job="maintenance",
            status=status,
            started_at=started,
            ended_at=run_log.now(),
            seconds=time.monotonic() - t0,
            error=f"failed: {', '.join(failed)}" if failed else None,
        )
    )
    print(f"maintenance {run_id}: {status} in {time.monotonic() - t0:.0f}s")
    return errors.EXIT_ERROR if failed else errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
