"""Kafka -> bronze and PostgreSQL -> bronze rows per second against Spark's floor (the same
topic or table read and written as Delta with nothing else). Needs the services:

    scripts/services.sh up && source .cache/services/services.env
    ./spark-submit.sh bench_sources --rows 1000000
"""

import os
import re
import sys
from pathlib import Path

from lakehouse.bench import source_bench
from lakehouse.config.secrets import secret
from lakehouse.runtime import cli, job


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--work", default="bench-work/sources")
    args = p.parse_args()
    os.environ["LAKEHOUSE_ROOT"] = str(Path(args.work).resolve() / "warehouse")
    return job.run("bench-sources", args, lambda work: bench(work, args), lock=False)


def bench(work: job.Work, args) -> int:
    import psycopg

    url = os.environ["LAKEHOUSE_PG_URL"]
    host, port, db = re.match(r"jdbc:postgresql://([^:/]+):(\d+)/(\w+)", url).groups()
    with psycopg.connect(
        host=host,
        port=int(port),
        dbname=db,
        user=os.environ["LAKEHOUSE_PG_USER"],
        password=secret("LAKEHOUSE_PG_PASSWORD", "bench"),
        autocommit=True,
    ) as conn:
        table = source_bench.run(
            work.spark,
            work.project,
            work.ctx,
            os.environ["LAKEHOUSE_KAFKA_BOOTSTRAP"],
            conn,
            url,
            args.rows,
            Path(args.work).resolve(),
        )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
