"""Show the last runs from the run log, and the tables of one run (default: the latest)."""

import json
import sys

from lakehouse import errors
from lakehouse.ops import run_log
from lakehouse.runtime import cli, job


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--last", type=int, default=10, help="how many runs (default 10)")
    p.add_argument("--run", help="show the tables of this run id")
    p.add_argument("--job", help="only runs of this job (pipeline, maintenance)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of tables")
    args = p.parse_args()
    return job.run("runs", args, lambda work: show(work, args), lock=False, needs_key=False)


def show(work: job.Work, args) -> int:
    log = run_log.of(work.spark, work.project)
    if not log.exists():
        print(f"no runs yet: no run log at {log.path}")
        return errors.EXIT_OK
    runs = log.last_runs(args.last, job=args.job)
    run_id = args.run or (runs[0]["run_id"] if runs else None)
    tables = log.tables_of(run_id) if run_id else []
    if args.json:
        for row in runs:
            print(json.dumps({"kind": "run", **row}, default=str))
        for row in tables:
            print(json.dumps({"kind": "table", **row}, default=str))
        return errors.EXIT_OK
    print(f"last {len(runs)} runs ({log.path})")
    print(run_log.format_table(runs, run_log.RUN_COLUMNS))
    if run_id:
        print(f"\ntables of run {run_id}")
        print(run_log.format_table(tables, run_log.TABLE_COLUMNS))
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
