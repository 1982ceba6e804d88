"""Benchmark the pipeline on simulated data: against the floor (plain Spark writing the same
files as Delta), against the naive full rebuild, and a day's cost on a history ten times
smaller. Prints a Markdown table of the ratios and writes it with the JSON figures.

    ./spark-submit.sh bench --positions 1000000,10000000
    ./spark-submit.sh bench --positions 20000 --days 40 --increments 2   # a quick look
    ./spark-submit.sh bench --positions 20000 --days 40 --s3 s3a://lakehouse/bench   # + a day on S3

Every figure comes from this one run on this one machine; compare ratios, not seconds.
"""

import sys
from datetime import UTC, datetime
from pathlib import Path

from lakehouse import pipeline
from lakehouse.bench import report
from lakehouse.bench.figures import Scale
from lakehouse.bench.harness import OPTIONAL_STEPS, Bench
from lakehouse.runtime import cli, job


def positive_ints(text: str) -> list[int]:
    values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise ValueError(f"expected positive numbers separated by commas, got {text!r}")
    return values


@job.exits
def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument(
        "--positions",
        type=positive_ints,
        default=[1_000_000, 10_000_000],
        help="order positions over the history, one scale each (default 1000000,10000000)",
    )
    p.add_argument("--days", type=int, default=365, help="days of history (default 365)")
    p.add_argument("--increments", type=int, default=3, help="daily increments timed (default 3)")
    p.add_argument(
        "--parallelism",
        type=int,
        default=pipeline.DEFAULT_PARALLELISM,
        help="tables refreshed side by side, as in production (default "
        f"{pipeline.DEFAULT_PARALLELISM}); 1 gives each table's seconds alone, where side by "
        "side they overlap",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("bench-work"),
        help="simulated landing areas and warehouses, reused by a later run (default ./bench-work)",
    )
    p.add_argument(
        "--prepare",
        action="store_true",
        help="only simulate the landing areas (a later run reuses them), time nothing",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=OPTIONAL_STEPS,
        help="leave this step out (repeatable); the ratios it serves are not reported",
    )
    p.add_argument(
        "--s3",
        metavar="S3A_URI",
        help="also time the first simulated day from empty on S3 (s3a://bucket/prefix; the "
        "store from storage.s3, e.g. scripts/services.sh up) against the same day on this disk",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="where results.json and results.md go (default <workdir>/results-<time>)",
    )
    args = p.parse_args()
    try:
        scales = [
            Scale(n, history_days=args.days, increments=args.increments, seed=args.seed)
            for n in args.positions
        ]
        for scale in scales:
            scale.validate()
        if args.parallelism < 1:
            raise ValueError(f"--parallelism must be at least 1 (got {args.parallelism})")
        if args.s3 and not args.s3.startswith("s3a://"):
            raise ValueError(f"--s3 takes an s3a://bucket/prefix URI, got {args.s3!r}")
    except ValueError as exc:
        p.error(str(exc))

    return job.run(
        "bench", args, lambda work: bench(work, args, scales), lock=False, log_level="ERROR"
    )


def bench(work: job.Work, args, scales: list[Scale]) -> int:
    """The bench works in warehouses of its own under --workdir: it takes no lock."""
    out = args.out or args.workdir / f"results-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    done: list = []

    def save(current) -> None:  # after every step, so a run that stops keeps its figures
        report.write([*done, current], out)

    say = lambda m: print(m, flush=True)  # noqa: E731
    bench = Bench(
        work.spark,
        work.project,
        args.workdir.resolve(),
        say=say,
        on_step=save,
        parallelism=args.parallelism,
        profile=work.ctx.profile,
        skip=args.skip,
        s3_root=args.s3,
    )
    if args.prepare:
        for scale in scales:
            print(bench.prepare(scale))
        return 0
    for scale in scales:
        try:
            done.append(bench.run_scale(scale))
        except Exception as exc:
            first = "\n".join(str(exc).splitlines()[:3])
            print(f"bench stopped at {scale.positions:,} positions: {first}", file=sys.stderr)
            print(f"what was measured: {out}/results.json and results.md", file=sys.stderr)
            return 1
    json_file, md_file = report.write(done, out)
    print()
    print(report.markdown(done))
    print(f"results: {json_file} and {md_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
