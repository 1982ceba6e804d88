"""Simulate the retailer's systems day by day and run the whole pipeline after each day.

Days whose drop is already in the landing area are not simulated again, so running the demo
twice leaves the warehouse as it was. --fresh starts from an empty warehouse.
"""

import os
import shutil
import sys
import time
from pathlib import Path

from lakehouse import pipeline
from lakehouse.results import RefreshResult
from lakehouse.runtime import cli, job
from lakehouse.simulator import Simulator, load_preset
from lakehouse.simulator.systems import RealSystems, staging_folder


@job.exits
def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--days", type=int, default=3, help="days to simulate (default 3)")
    p.add_argument("--preset", default="demo", help="simulator preset (default demo)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--fresh", action="store_true", help="delete the warehouse folder first")
    p.add_argument(
        "--systems",
        choices=["files", "real"],
        default="files",
        help="real: e-commerce to Kafka, shops to PostgreSQL (start scripts/services.sh first)",
    )
    args = p.parse_args()
    if args.systems == "real":
        os.environ.setdefault("LAKEHOUSE_TABLES_OVERLAY", "systems/real")
    project, ctx = job.configure(args)
    if args.fresh and "://" not in project.root:
        shutil.rmtree(project.root, ignore_errors=True)
    return job.run("demo", args, lambda work: demo(work, args), configured=(project, ctx))


def demo(work: job.Work, args) -> int:
    project, spark = work.project, work.spark
    landing = project.landing
    systems = None
    if args.systems == "real":  # the day is staged as files, then delivered to the systems
        systems = RealSystems(project, landing, args.seed, void_share=0.001)
        landing = staging_folder(landing)
    simulator = Simulator(spark, load_preset(args.preset), landing=landing, seed=args.seed)
    print(f"run {work.ctx.run_id}: warehouse {project.root}", flush=True)
    started = time.monotonic()
    reports: list[RefreshResult] = []
    tables = pipeline.select(project)
    for day in range(args.days):
        day_date = simulator.calendar.iso(day)
        if (Path(project.landing) / "_manifest" / f"{day_date}.json").exists():
            print(f"day {day_date}: already in the landing area", flush=True)
        else:
            t0 = time.monotonic()
            manifest = simulator.simulate_day(day)
            if systems is not None:
                systems.deliver(Path(landing), manifest)
            print(f"day {day_date}: simulated in {time.monotonic() - t0:.1f}s", flush=True)
        t0 = time.monotonic()
        # Days replayed minutes apart would leave the weekly models (refresh_every) as the
        # first day built them: the last day refreshes them too, so the summary is current.
        ctx = work.ctx.derived(day_date, refresh_now=day == args.days - 1)
        reports = pipeline.run(spark, project, ctx, tables, before_table=work.lock.check)
        print(f"day {day_date}: pipeline in {time.monotonic() - t0:.1f}s", flush=True)
    print(pipeline.format_reports(reports))
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
