"""Run bronze, silver and gold (or some layers) in dependency order and print what they hold."""

import sys

from lakehouse import cli, pipeline
from lakehouse.config import ConfigError


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--layer", action="append", choices=["bronze", "silver", "gold"])
    args = p.parse_args()
    try:
        project, spark = cli.start(args, "lakehouse-pipeline")
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print(f"run {args.run_id}: warehouse {project.root}", flush=True)
    reports = pipeline.run(
        spark,
        project,
        args.run_id,
        layers=tuple(args.layer or ()),
        on_table=lambda r: print(
            f"  {r.layer}.{r.table}: {r.rows} rows ({r.seconds:.1f}s)", flush=True
        ),
    )
    print(pipeline.format_reports(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
