"""Erase data subjects (right to be forgotten) from bronze, silver, gold and the landing area,
then purge the old files and log statistics that still hold them.

    ./spark-submit.sh erase --customer-id C1 [--customer-id C2 | --from-file ids.txt]

Tables say which column identifies the subject (`erasure:` in their YAML). The ids are never
printed or logged: the output gives counts only. Time travel to versions before the erasure is
gone afterwards. Exit codes: 0 done, 1 error, 2 bad command line or configuration, 4 another
run holds the warehouse.
"""

import sys
import time

from lakehouse import errors
from lakehouse.ops import erasure
from lakehouse.runtime import cli, job


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--customer-id", action="append", default=[], metavar="ID")
    p.add_argument("--from-file", metavar="FILE", help="ids, one per line (# starts a comment)")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS")
    args = p.parse_args()
    ids = list(args.customer_id)
    if args.from_file:
        with open(args.from_file, encoding="utf-8") as f:
            ids += erasure.read_ids(f)
    if not ids:
        p.error("give --customer-id or --from-file")

    # One writer at a time: a pipeline run between the rewrite and the purge would lose files.
    def erase(work: job.Work) -> int:
        started = time.monotonic()
        report = erasure.erase(work.spark, work.project, ids, work.ctx)
        print(f"run {work.ctx.run_id}: erased {report.subjects} subject(s)")
        for name, rows in report.rows_removed.items():
            print(f"  {name:<36} {rows:>8} rows removed")
        for name, files in report.landing_files.items():
            print(f"  landing of {name:<25} {files:>8} files rewritten")
        print(f"done in {time.monotonic() - started:.0f}s; history before this run is purged")
        return errors.EXIT_OK

    return job.run("erase", args, erase, wait=args.wait)


if __name__ == "__main__":
    sys.exit(main())
