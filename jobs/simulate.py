"""Simulate the retailer's operational systems: daily exports with known defects.

    jobs/simulate.py --preset demo --days 7 --landing PATH --seed 42 [--start 2026-03-01]
                     [--scale-positions N] [--first-day I]

Writes <landing>/<source path>/<name>_<day>.<ext> per bronze source and the ground-truth
manifest <landing>/_manifest/<day>.json, then prints files, bytes, rows and seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.simulator import Simulator, load_preset
from lakehouse.simulator.systems import RealSystems, real_systems_project, staging_folder


def _default_landing() -> str | None:
    try:
        from lakehouse.config import load_project
    except ImportError:
        return None
    conf = Path(__file__).resolve().parents[1] / "conf" / "lakehouse.yaml"
    return load_project(conf).landing if conf.exists() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--preset", default="demo", help="tiny, demo or large (conf/simulator/presets.yaml)"
    )
    p.add_argument("--days", type=int, help="days to write (default: the preset's)")
    p.add_argument("--first-day", default="0", help="day index or ISO date to start at (default 0)")
    p.add_argument(
        "--landing", help="landing folder (default: storage.landing of conf/lakehouse.yaml)"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", help="ISO date of day index 0 (default: the preset's)")
    p.add_argument("--scale-positions", type=int, help="order positions per day (the scale knob)")
    p.add_argument(
        "--one-by-one", action="store_true", help="generate day by day, as a daily run would"
    )
    p.add_argument(
        "--systems",
        choices=["files", "real"],
        default="files",
        help="real: publish e-commerce to Kafka and keep the shops in PostgreSQL as\n"
        "the systems/real tables say (scripts/services.sh up, then source its env)",
    )
    p.add_argument("--void-share", type=float, default=0.001, help="real: sales voided per day")
    args = p.parse_args(argv)

    landing = args.landing or _default_landing()
    if not landing:
        p.error("--landing is required (no conf/lakehouse.yaml to take it from)")
    settings = load_preset(args.preset, start=args.start, positions_per_day=args.scale_positions)
    spark = SparkSession.builder.appName("lakehouse-simulate").getOrCreate()
    systems = None
    if args.systems == "real":
        conf = Path(__file__).resolve().parents[1] / "conf" / "lakehouse.yaml"
        project = real_systems_project(os.environ.get("LAKEHOUSE_CONF", conf))
        systems = RealSystems(project, landing, args.seed, args.void_share)
        landing = str(staging_folder(landing))
    sim = Simulator(spark, settings, landing=landing, seed=args.seed)
    first = sim.calendar.index(int(args.first_day) if args.first_day.isdigit() else args.first_day)
    days = settings.days if args.days is None else args.days

    started = time.monotonic()
    if args.one_by_one or systems is not None:
        manifests = [sim.simulate_day(first + i) for i in range(days)]
        if systems is not None:
            manifests = [systems.deliver(Path(landing), m) for m in manifests]
    else:
        manifests = sim.simulate(days=days, first=first)
    seconds = time.monotonic() - started

    print(
        f"simulated {len(manifests)} day(s) of preset {settings.preset!r} "
        f"({settings.positions_per_day:,} positions/day, seed {args.seed}) into {landing}"
    )
    totals: dict[str, list[int]] = {}
    for m in manifests:
        for name, source in m["sources"].items():
            t = totals.setdefault(name, [0, 0, 0, 0])
            t[0] += len(source["files"])
            t[1] += sum(f["bytes"] for f in source["files"])
            t[2] += source["rows"]
            t[3] += sum(d["count"] for d in source["defects"].values())
    print(f"{'source':<16}{'files':>7}{'bytes':>16}{'rows':>14}{'defects':>10}")
    for name, (files, size, rows, defects) in sorted(totals.items()):
        print(f"{name:<16}{files:>7}{size:>16,}{rows:>14,}{defects:>10,}")
    all_files = sum(t[0] for t in totals.values())
    all_bytes = sum(t[1] for t in totals.values())
    all_rows = sum(t[2] for t in totals.values())
    print(f"{'total':<16}{all_files:>7}{all_bytes:>16,}{all_rows:>14,}")
    if systems is not None:
        delivered: dict[str, int] = {}
        for m in manifests:
            for topic, t in m["systems"]["topics"].items():
                delivered[f"kafka {topic}"] = delivered.get(f"kafka {topic}", 0) + t["messages"]
            for name, t in m["systems"]["tables"].items():
                delivered[f"postgres {name}"] = delivered.get(f"postgres {name}", 0) + t["rows"]
            for name, v in m["systems"]["voided"].items():
                delivered[f"voided {name}"] = delivered.get(f"voided {name}", 0) + v["count"]
        for where, n in sorted(delivered.items()):
            print(f"{where:<32}{n:>12,}")
    print(f"seconds: {seconds:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
