"""One benchmark scale: simulate a year, then time the floor, the full load, daily increments on
that history and on one ten times smaller, the naive rebuild and silver without expectations.

Every warehouse of a scale lives under ``<workdir>/<positions>/``; the landing area is shared
by all of them and each pipeline run takes only the days it is given (file names carry the
day), so every step reads exactly the files it should.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse import pipeline
from lakehouse.bench.figures import Scale, ScaleResult, Step, simulator_overrides
from lakehouse.bench.probe import MB, MemorySampler, MergeScan, MergeScans
from lakehouse.bench.report import SCHEDULED_STEP
from lakehouse.bench.workspace import (
    at_root,
    bronze_row_count,
    landed_files,
    landed_rows,
    read_manifests,
    scheduled_models,
    share_bronze,
    simulator_digest,
    without_expectations,
    without_gx,
)
from lakehouse.bronze import files as bronze_files
from lakehouse.config import Project
from lakehouse.config.tables import LAYERS
from lakehouse.context import RunContext
from lakehouse.results import Status
from lakehouse.simulator import Simulator, load_preset
from lakehouse.simulator.simulator import MANIFEST_DIR
from lakehouse.storage import hadoop_fs

# Steps a run may leave out (``--skip``): rebuilds of silver alone, whose ratio is about the
# quality suites, not the scale; at 10M they take a quarter of the run.
OPTIONAL_STEPS = ("silver_no_expectations", "silver_spark_checks_only")

Say = Callable[[str], None]


# ---------------------------------------------------------------------------------------------
# The run


class Bench:
    def __init__(
        self,
        spark: SparkSession,
        project: Project,
        workdir: Path,
        say: Say = print,
        on_step: Callable[[ScaleResult], None] | None = None,
        parallelism: int = pipeline.DEFAULT_PARALLELISM,
        profile: str = "local",
        skip: Iterable[str] = (),
        s3_root: str | None = None,
    ):
        if "://" in str(workdir):
            raise ValueError(f"the bench runs on a local folder, not {workdir}")
        self.spark = spark
        self.project = project
        self.workdir = workdir
        self.say = say
        self.on_step = on_step or (lambda result: None)  # e.g. write what is measured so far
        # Tables side by side, as in production; 1 makes each table's seconds its own, where
        # side by side they overlap.
        self.parallelism = parallelism
        self.profile = profile
        unknown = set(skip) - set(OPTIONAL_STEPS)
        if unknown:
            raise ValueError(
                f"only {', '.join(OPTIONAL_STEPS)} can be skipped, not {', '.join(sorted(unknown))}"
            )
        self.skip = frozenset(skip)
        # Where the S3 step's warehouse and landing go (s3a://bucket/prefix); None: no S3 step.
        self.s3_root = s3_root.rstrip("/") if s3_root else None
        self._scans: MergeScans | None = None
        self._paused = 0.0  # seconds of the current step spent reading metrics

    def home(self, scale: Scale) -> Path:
        return self.workdir / f"positions-{scale.positions}"

    def prepare(self, scale: Scale) -> dict:
        """Simulate the scale's landing area only; ``run_scale`` reuses it."""
        scale.validate()
        summary = self.simulate(scale, self.home(scale) / "landing")
        summary.pop("calendar")
        return summary

    def run_scale(self, scale: Scale) -> ScaleResult:
        scale.validate()
        home = self.home(scale)
        landing = home / "landing"
        for old in home.glob("*"):  # warehouses from an earlier run; the landing is reused
            if old != landing:
                shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
        simulation = self.simulate(scale, landing)
        manifests = read_manifests(landing)
        calendar = simulation.pop("calendar")
        day_names = {d: calendar[d] for d in range(len(calendar))}

        result = ScaleResult(scale, simulation, [], 0, parallelism=self.parallelism)
        with MemorySampler(self.spark) as memory:
            result.heap_max_mb = round(memory.heap_max / MB)
            large = at_root(self.project, home / "large", landing)

            self._scans = MergeScans(self.spark, set(self.project.tables))

            def measure(name: str, history: str, rows: int, body: Callable[[Step], None]) -> Step:
                self.say(f"[{scale.positions:,}] {name} ...")
                step = Step(name, history, 0.0, rows)
                self.fresh_caches()
                memory.restart()
                self._paused = 0.0
                started = time.monotonic()
                try:
                    body(step)
                except Exception as exc:
                    result.error = f"{name} ({history}): {type(exc).__name__}: {exc}"[:4000]
                    result.merge_metrics_complete = self._scans.complete
                    self.on_step(result)
                    raise
                step.seconds = round(time.monotonic() - started - self._paused, 2)
                heap, rss = memory.peaks()
                step.heap_peak_mb, step.python_rss_peak_mb = round(heap / MB), round(rss / MB)
                step.live_heap_mb = round(memory.live_heap() / MB)
                self.say(
                    f"[{scale.positions:,}] {name}: {step.seconds:.1f}s, {rows:,} rows, "
                    f"live heap {step.live_heap_mb:.0f} MB, Python RSS {step.python_rss_peak_mb:.0f} MB"
                )
                result.steps.append(step)
                result.merge_metrics_complete = self._scans.complete
                self.on_step(result)
                return step

            def increments(warehouse: Project, history: str) -> None:
                for day in (day_names[d] for d in scale.increment_days):
                    rows = landed_rows(manifests, [day])
                    body = lambda s, d=day: self.layers(s, warehouse, [d])  # noqa: E731
                    measure(f"increment {day}", history, rows, body)

            history = [day_names[d] for d in scale.history]
            landed = landed_rows(manifests, history)
            measure("floor", "-", landed, lambda s: self.floor(s, large, history, home / "floor"))
            if self.s3_root:  # early, so a run that stops later still has them
                self.disk_and_s3(scale, measure, landing, day_names[scale.history[0]], manifests)
            measure("full_load", "-", landed, lambda s: self.layers(s, large, history))
            increments(large, "large")
            # The models a schedule refreshes (refresh_every: trained marts) are not due on the
            # days just after the full load built them; here they run as on a day they are due,
            # after the last day, so their cost is what such a day adds.
            scheduled = scheduled_models(large)
            if scheduled:
                body = lambda s: self.layers(s, large, [], ("gold",), scheduled)  # noqa: E731
                measure(SCHEDULED_STEP, "large", 0, body)
            # A daily run on a day whose files are all taken, against the least a job can do:
            # start Spark and read one table's version. Both as a user runs them, one
            # spark-submit each.
            last_day = day_names[scale.increment_days[-1]]
            selected = [a for ref in sorted(self.project.tables) for a in ("--table", ref)]
            for name, job in (
                ("spark_floor", ["version", "--table", "gold.fct_orders"]),
                ("nothing_landed", ["pipeline", "--date", last_day, *selected]),
            ):
                body = lambda s, j=job: self.submit(j, home / "large", landing)  # noqa: E731
                measure(name, "large", 0, body)

            # Rebuilds from scratch over the large warehouse's bronze, each in a warehouse of
            # its own: (step, warehouse, layers, project variant).
            bronze_rows = bronze_row_count(self.spark, large)
            rebuilds = [
                ("naive_rebuild", "naive", ("silver", "gold"), lambda p: p),
                ("silver_no_expectations", "plain", ("silver",), without_expectations),
            ]
            if self.project.settings.quality.great_expectations:
                rebuilds.append(("silver_spark_checks_only", "checks", ("silver",), without_gx))
            for name, folder, layers, variant in rebuilds:
                if name in self.skip:
                    self.say(f"[{scale.positions:,}] {name}: skipped")
                    continue
                warehouse = variant(at_root(self.project, home / folder, landing))
                share_bronze(home / "large", home / folder)
                body = lambda s, w=warehouse, ls=layers: self.layers(s, w, None, ls)  # noqa: E731
                measure(name, "large", bronze_rows, body)

            small = at_root(self.project, home / "small", landing)
            small_history = [day_names[d] for d in scale.small_history]
            measure(
                "full_load_small",
                "-",
                landed_rows(manifests, small_history),
                lambda s: self.layers(s, small, small_history),
            )
            increments(small, "small")
        return result

    def disk_and_s3(
        self, scale: Scale, measure: Callable, landing: Path, day: str, manifests: dict
    ) -> None:
        """The same simulated day, from empty, into a warehouse on this disk and into one on
        S3 (its files copied to an S3 landing first, off the clock): what the store costs."""
        home = self.home(scale)
        prefix = f"{self.s3_root}/positions-{scale.positions}"
        fs, top = hadoop_fs.file_system(self.spark, prefix)
        fs.delete(top, True)  # a warehouse of an earlier run
        for file in landed_files(landing, [day]):
            relative = Path(file).relative_to(landing)
            target = hadoop_fs.hadoop_path(self.spark, f"{prefix}/landing/{relative}")
            fs.copyFromLocalFile(False, True, hadoop_fs.hadoop_path(self.spark, file), target)
        rows = landed_rows(manifests, [day])
        disk = at_root(self.project, home / "day-disk", landing)
        s3 = at_root(self.project, f"{prefix}/warehouse", f"{prefix}/landing")
        measure(f"day_disk {day}", "-", rows, lambda s: self.layers(s, disk, [day]))
        # The local profile makes no hashing key for a warehouse off this disk: the S3 day
        # hashes with the disk day's key (or the one given), as one warehouse would.
        key = (
            {}
            if os.environ.get("LAKEHOUSE_PII_KEY") or os.environ.get("LAKEHOUSE_PII_KEY_FILE")
            else {"LAKEHOUSE_PII_KEY_FILE": str(disk.pii_key_file)}
        )
        os.environ.update(key)
        try:
            measure(f"day_s3 {day}", "-", rows, lambda s: self.layers(s, s3, [day]))
        finally:
            for name in key:
                os.environ.pop(name)

    # --- the data -----------------------------------------------------------------------------

    def simulate(self, scale: Scale, landing: Path) -> dict:
        """Write every day the scale needs, unless a previous run left it (same seed and
        settings give the same bytes). Days are written in chunks so that no chunk holds
        more than about 300,000 positions on the driver."""
        settings = load_preset(scale.preset, **simulator_overrides(scale))
        simulator = Simulator(self.spark, settings, landing=landing, seed=scale.seed)
        stamp = landing / "_bench.json"
        wanted = {
            "settings": simulator_overrides(scale),
            "seed": scale.seed,
            "preset": scale.preset,
            "simulator": simulator_digest(settings),
        }
        if stamp.exists() and json.loads(stamp.read_text()) != wanted:
            shutil.rmtree(landing)  # another scale or seed: start over
        days = scale.history_days + scale.increments
        chunk = max(1, 300_000 // scale.positions_per_day)
        started, simulated = time.monotonic(), 0
        day = 0
        while day < days:
            last = min(days, day + chunk) - 1
            missing = [
                d
                for d in range(day, last + 1)
                if not (landing / MANIFEST_DIR / f"{simulator.calendar.iso(d)}.json").exists()
            ]
            if missing:
                simulator.simulate_range(missing[0], missing[-1])
                simulated += len(missing)
                self.say(
                    f"[{scale.positions:,}] simulated days {missing[0]}..{missing[-1]} of {days}"
                )
            day = last + 1
        landing.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(wanted))
        manifests = read_manifests(landing)
        files = [f for m in manifests.values() for s in m["sources"].values() for f in s["files"]]
        calendar = [simulator.calendar.iso(d) for d in range(days)]
        history = set(calendar[: scale.history_days])
        return {
            "days": days,
            "days_simulated_now": simulated,
            "seconds": round(time.monotonic() - started, 1),
            "files": len(files),
            "bytes": sum(f["bytes"] for f in files),
            "rows": sum(f["rows"] for f in files),
            "order_positions": sum(
                m["sources"]["order_positions"]["rows"]
                for d, m in manifests.items()
                if d in history
            ),
            "calendar": calendar,
        }

    # --- the steps ----------------------------------------------------------------------------

    def floor(self, step: Step, project: Project, days: list[str], target: Path) -> None:
        """Plain Spark: each source's landed files of ``days``, read with their declared
        schema and written once as Delta. No lineage, contracts, dedup or checkpoints."""
        shutil.rmtree(target, ignore_errors=True)
        for table in project.in_dependency_order():
            if table.layer != "bronze":
                continue
            landed = landed_files(Path(project.landing_path(table)), days)
            if not landed:
                continue
            t0 = time.monotonic()
            source = table.spec.source
            (
                self.spark.read.format(source.format)
                .schema(bronze_files.source_schema(source))
                .options(**bronze_files.reader_options(source))
                .load(landed)
                .write.format("delta")
                .save(str(target / table.name))
            )
            step.tables[table.ref] = round(time.monotonic() - t0, 2)
        step.layers["bronze"] = round(sum(step.tables.values()), 2)

    def layers(
        self,
        step: Step,
        project: Project,
        days: Iterable[str] | None,
        layers: tuple[str, ...] = LAYERS,
        only: tuple[str, ...] = (),
    ) -> None:
        """The pipeline a layer at a time (so each layer has its own figure), bronze taking
        only the files of ``days``; ``only``: just those tables, due or not."""
        chosen = tuple(date.fromisoformat(d) for d in days) if days is not None else ()
        for layer in layers:
            selection = pipeline.Selection(tables=only, layers=(layer,))
            tables = pipeline.select(project, selection)
            t0 = time.monotonic()
            ctx = RunContext(
                f"bench-{step.name}", self.profile, days=chosen, refresh_now=bool(only)
            )
            reports = pipeline.run(
                self.spark,
                project,
                ctx,
                tables,
                parallelism=self.parallelism,
                on_event=lambda event: (
                    event["event"] == "table_succeeded" and self._collect_merges(step)
                ),
            )
            step.layers[layer] = round(time.monotonic() - t0, 2)
            step.tables.update({r.ref: round(r.seconds, 2) for r in reports})
            step.refreshes.update(
                {r.ref: {"strategy": r.strategy, "jobs": r.spark_jobs} for r in reports}
            )
            step.not_due += [r.ref for r in reports if r.status is Status.NOT_DUE]
            self._collect_merges(step)

    def submit(self, job: list[str], root: Path, landing: Path) -> None:
        """Run a job with ``./spark-submit.sh`` on the warehouse at ``root``."""
        script = self.project.project_dir / "spark-submit.sh"
        env = {**os.environ, "LAKEHOUSE_ROOT": str(root), "LAKEHOUSE_LANDING": str(landing)}
        env.pop("PYSPARK_GATEWAY_PORT", None)  # a process of its own, not this one's JVM
        env.pop("PYSPARK_GATEWAY_SECRET", None)
        done = subprocess.run([str(script), *job], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(job)} exited {done.returncode}: {done.stderr[-2000:]}")

    def fresh_caches(self) -> None:
        """Start a step with the caches of a new run: each step is its own run in
        production (one spark-submit each), and Delta would otherwise keep the snapshots
        of every warehouse the earlier steps touched."""
        self.spark.catalog.clearCache()
        hadoop_fs.clear_delta_log_cache(self.spark)

    def _collect_merges(self, step: Step) -> None:
        """Add the MERGE scans finished so far to the step, off the step's clock. Read as
        each table ends (and after each layer), while Spark still holds the executions."""
        t0 = time.monotonic()
        for table, scan in self._scans.take().items():
            numbers = step.merges.setdefault(table, dict.fromkeys(_scan_numbers(scan), 0))
            for name, value in _scan_numbers(scan).items():
                numbers[name] += value
        self._paused += time.monotonic() - t0


# ---------------------------------------------------------------------------------------------


def _scan_numbers(scan: MergeScan) -> dict[str, int]:
    return {"merges": scan.merges, **scan.numbers}
