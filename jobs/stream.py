"""Keep bronze tables read from Kafka (and optionally the silver tables on them) up to date
continuously, until SIGTERM or Ctrl-C; exactly once across stops and crashes.

A table streamed here must not be in a daily `pipeline` run at the same time: both would
drive one checkpoint.
"""

import signal
import sys
import threading

from lakehouse import errors
from lakehouse.pipeline import continuous
from lakehouse.runtime import cli, job


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument(
        "--table", action="append", metavar="bronze.NAME", help="default: every Kafka table"
    )
    p.add_argument("--interval", default="10 seconds", help="processing-time trigger")
    p.add_argument("--silver", action="store_true", help="refresh their silver tables too")
    args = p.parse_args()
    try:
        continuous.delta_io_seconds(args.interval)
    except (ValueError, KeyError):
        p.error(f"--interval: expected '<n> seconds|minutes|hours', got {args.interval!r}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # No warehouse lock: it would keep the daily runs out for as long as this streams. A table
    # streamed here must not be in a daily run (see above).
    return job.run("stream", args, lambda work: stream(work, args, stop), lock=False)


def stream(work: job.Work, args, stop: threading.Event) -> int:
    try:
        tables = (
            [work.project.table(ref) for ref in args.table]
            if args.table
            else continuous.kafka_tables(work.project)
        )
    except KeyError as exc:
        raise job.usage_error(exc) from None
    if not tables:
        print("no bronze table reads from Kafka", file=sys.stderr)
        return errors.EXIT_USAGE
    try:
        continuous.run(
            work.spark, work.project, tables, work.ctx, args.interval, stop, with_silver=args.silver
        )
    except ValueError as exc:
        raise job.usage_error(exc) from None
    except Exception as exc:
        print(f"stream failed: {exc}", file=sys.stderr)
        return errors.EXIT_ERROR
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
