"""Write the JSON Schema of each kind of configuration file (tables, lakehouse.yaml,
expectation suites, harmonisation, simulator) to docs/schema/, drawn from the models.
No Spark: it also runs as `.venv/bin/python jobs/schema.py`.

    ./spark-submit.sh schema [--out docs/schema] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lakehouse.config.json_schema import CONFIG_FILES, stale, write


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs/schema")
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a schema is out of date"
    )
    args = p.parse_args(argv)
    if args.check:
        old = stale(args.out, CONFIG_FILES)
        for path in old:
            print(f"out of date: {path} (./spark-submit.sh schema rewrites it)")
        return 1 if old else 0
    changed = write(args.out, CONFIG_FILES)
    print(f"{len(CONFIG_FILES)} schemas in {args.out}, {len(changed)} rewritten")
    for path in changed:
        print(f"  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
