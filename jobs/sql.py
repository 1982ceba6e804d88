"""Query the warehouse's tables by name (bronze.orders, silver.customers, gold.fct_orders).

    ./spark-submit.sh sql -e "SELECT count(*) FROM gold.fct_orders"
    ./spark-submit.sh sql -f report.sql --json
    ./spark-submit.sh sql --profile cluster -e "SHOW TABLES IN gold"

With a metastore (the profile's ``metastore.url``) the names are those every pipeline run
registered there; without one, the tables found under the root are named for this job only.
Statements are separated by ``;`` and a space or line end; the last one's rows are printed.
"""

import json
import re
import sys

from pyspark.errors import AnalysisException, ParseException

from lakehouse import errors
from lakehouse.ops.run_log import format_table
from lakehouse.runtime import cli, job
from lakehouse.storage import catalog


def main() -> int:
    p = cli.parser(__doc__)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("-e", "--execute", metavar="SQL", help="the statement(s) to run")
    what.add_argument("-f", "--file", help="a file of statements")
    p.add_argument("--json", action="store_true", help="print rows as JSON lines")
    p.add_argument("--limit", type=int, default=1000, help="print at most this many rows")
    args = p.parse_args()
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            print(f"sql: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return errors.EXIT_USAGE
    else:
        text = args.execute
    statements = [s.strip() for s in re.split(r";(?:\s+|$)", text) if s.strip()]
    return job.run("sql", args, lambda w: query(w, statements, args), lock=False, needs_key=False)


def query(work: job.Work, statements: list[str], args) -> int:
    if not catalog.is_persistent(work.spark):
        catalog.register_existing(work.spark, work.project)
    try:
        frame = None
        for statement in statements:
            frame = work.spark.sql(statement)
        rows = frame.limit(args.limit).collect() if frame is not None else []
    except (AnalysisException, ParseException) as exc:
        print(f"sql: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return errors.EXIT_USAGE
    if args.json:
        for row in rows:
            print(json.dumps(row.asDict(recursive=True), default=str))
    else:
        columns = frame.columns if frame is not None else []
        print(format_table([r.asDict() for r in rows], columns))
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
