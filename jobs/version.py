"""Print the Delta version of a table (default: every table): what a run with nothing to do
reads, so its start-up is also the bench's floor for such a run.

    ./spark-submit.sh version --table gold.fct_orders
"""

import sys

from lakehouse import errors
from lakehouse.runtime import cli, job
from lakehouse.storage import delta_tables


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--table", action="append", metavar="LAYER.NAME")
    args = p.parse_args()

    def show(work: job.Work) -> int:
        try:
            tables = [work.project.table(ref) for ref in args.table or work.project.tables]
        except KeyError as exc:
            raise job.usage_error(exc) from None
        for table in tables:
            version = delta_tables.current_version(work.spark, work.project.table_path(table))
            print(f"{table.ref} {'-' if version is None else version}")
        return errors.EXIT_OK

    return job.run("version", args, show, lock=False, needs_key=False)


if __name__ == "__main__":
    sys.exit(main())
