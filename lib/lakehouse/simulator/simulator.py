"""Run the operational systems day by day and drop their exports into the landing area."""

from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.simulator.behaviour_truth import behaviour_settings, behaviour_truth
from lakehouse.simulator.calendar import Calendar
from lakehouse.simulator.customers import customers_model
from lakehouse.simulator.defects import Defects
from lakehouse.simulator.episodes import Episodes
from lakehouse.simulator.feeds import Source, load_contract
from lakehouse.simulator.landing_writer import DefectTally, write_lines, write_parquet, write_text
from lakehouse.simulator.orders import orders_model, positions_model
from lakehouse.simulator.pos import pos_model
from lakehouse.simulator.presets import Settings, load_preset
from lakehouse.simulator.product_catalogue import products_model, stock_model
from lakehouse.simulator.rng import Rng
from lakehouse.simulator.shops import shops_model
from lakehouse.simulator.source_model import Context
from lakehouse.simulator.truth import Truth
from lakehouse.simulator.web import web_model
from lakehouse.simulator.world import World

MODELS = (
    customers_model,
    orders_model,
    positions_model,
    shops_model,
    products_model,
    stock_model,
    pos_model,
    web_model,
)
MANIFEST_DIR = "_manifest"
STAGING_DIR = "_simulator_staging"

# Session settings the bytes depend on; set while simulating, restored afterwards.
SESSION = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.files.maxRecordsPerFile": "0",
}


@contextmanager
def _session_settings(spark: SparkSession):
    before = {k: spark.conf.get(k, None) for k in SESSION}
    for k, v in SESSION.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


class Simulator:
    """The retailer's operational systems.

    ``simulate_day(d)`` writes day d's exports (d: index from ``start``, or a date) and the
    ground-truth manifest ``<landing>/_manifest/<date>.json``, and returns the manifest.
    Everything is derived from seed, settings and day, so days can be produced in any
    order, again, or on another machine, with the same bytes.
    """

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings | None = None,
        landing: str | os.PathLike | None = None,
        seed: int = 42,
        contract: dict[str, Source] | None = None,
        **overrides: Any,
    ):
        if landing is None:
            raise ValueError("landing: the folder the exports go to is required")
        self.spark = spark
        self.settings = (settings or load_preset("demo")).with_overrides(**overrides)
        self.landing = Path(landing).resolve()
        self.seed = int(seed)
        rng = Rng(self.seed)
        calendar = Calendar(self.settings, rng)
        world = World(self.settings, rng)
        episodes = Episodes(
            self.settings.behaviour, calendar, rng, world.assortment, world.shoppers
        )
        self.ctx = Context(spark, self.settings, rng, calendar, world, episodes)
        self.contract = contract or load_contract()
        models = {m.name: m for m in (make(self.ctx) for make in MODELS)}
        self.defects = {
            name: Defects(self.ctx, model, self.contract[name])
            for name, model in models.items()
            if name in self.contract
        }
        self.not_simulated = sorted(set(self.contract) - set(models))
        small = self.settings.positions_per_day < self.settings.spark_write_from_positions
        self.truth = Truth(self.ctx, self.defects, small)

    @property
    def calendar(self) -> Calendar:
        return self.ctx.calendar

    def simulate(self, days: int | None = None, first: int | str | date = 0) -> list[dict]:
        """Write ``days`` consecutive days (default: the preset's) from ``first`` on."""
        start = self.calendar.index(first)
        count = self.settings.days if days is None else days
        return self.simulate_range(start, start + count - 1) if count > 0 else []

    def simulate_day(self, day: int | str | date) -> dict:
        """Write one day's exports and manifest; return the manifest."""
        index = self.calendar.index(day)
        return self.simulate_range(index, index)[0]

    def simulate_range(self, first: int, last: int) -> list[dict]:
        """Write the days [first, last]; the bytes are the same as writing them one by one.

        Small days are generated together (one Spark job per source for the whole range),
        large ones a day at a time with Spark writing the files.
        """
        if first < 0:
            raise ValueError(f"day {first} is before the simulation start {self.settings.start}")
        started = time.monotonic()
        days = range(first, last + 1)
        sources: dict[int, dict] = {day: {} for day in days}
        on_driver = self.settings.positions_per_day < self.settings.spark_write_from_positions
        with _session_settings(self.spark):
            for name, defects in sorted(self.defects.items()):
                if on_driver and defects.source.format != "parquet":
                    exported = self._export_on_driver(defects, first, last)
                else:
                    exported = {day: self._export_with_spark(defects, day) for day in days}
                for day in days:
                    sources[day][name] = exported[day]
            truths = self.truth.as_of(first, last)
            behaviour = behaviour_truth(self.ctx, first, last)
        shutil.rmtree(self.landing / STAGING_DIR, ignore_errors=True)
        manifests = []
        for day in days:
            truth, late_older = truths[day]
            if "orders" in sources[day]:
                sources[day]["orders"]["late_older_versions"] = late_older
            manifest = self._manifest(day, sources[day], truth, behaviour[day])
            self._write_manifest(day, manifest)
            manifests.append(manifest)
        self.last_run_seconds = round(time.monotonic() - started, 3)
        return manifests

    # -------------------------------------------------------------------------------------

    def _rows(self, defects: Defects, first: int, last: int) -> DataFrame:
        """Rows arriving on days [first, last]: on time, or late from up to late_max days before."""
        start = max(0, first - self.settings.late_max_days)
        annotated = defects.annotate(defects.model.rows(start, last))
        return annotated.where(F.col("_arrival").between(first, last))

    def _export_on_driver(self, defects: Defects, first: int, last: int) -> dict[int, dict]:
        rendered = defects.render(
            defects.materialize(self._rows(defects, first, last)), first, last
        )
        by_file: dict[tuple[int, bool], list] = {}
        for row in rendered.collect():
            by_file.setdefault((row["_arrival"], row["_lag"] > 0), []).append(row)
        out = {}
        for day in range(first, last + 1):
            files = []
            for late in (False, True):
                relative = defects.source.relative_file(
                    self.calendar.iso(day), "_late" if late else ""
                )
                size, tally = write_lines(
                    by_file.get((day, late), []),
                    self.landing / relative,
                    defects.header(day),
                    self.settings.manifest_max_keys,
                )
                files.append(
                    ({"path": relative, "rows": tally.rows, "bytes": size} if size else None, tally)
                )
            out[day] = self._summary(files)
        return out

    def _export_with_spark(self, defects: Defects, day: int) -> dict:
        rows = defects.materialize(self._rows(defects, day, day))
        files = []
        for late in (False, True):
            part = rows.where((F.col("_lag") > 0) if late else (F.col("_lag") == 0))
            relative = defects.source.relative_file(self.calendar.iso(day), "_late" if late else "")
            target, staging = self.landing / relative, self.landing / STAGING_DIR / relative
            rendered = defects.render(part, day)
            max_keys = self.settings.manifest_max_keys
            if defects.source.format == "parquet":
                size, tally = write_parquet(rendered, target, max_keys)
            else:
                size, tally = write_text(rendered, target, defects.header(day), staging, max_keys)
            files.append(
                ({"path": relative, "rows": tally.rows, "bytes": size} if size else None, tally)
            )
        return self._summary(files)

    def _summary(self, files: list[tuple[dict | None, DefectTally]]) -> dict:
        tally = DefectTally(self.settings.manifest_max_keys)
        written = []
        for entry, file_tally in files:
            if entry is not None:
                written.append(entry)
            for kind, count in file_tally.counts.items():
                tally.add(kind, None, count, file_tally.keys[kind])
                for detail, n in file_tally.details.get(kind, {}).items():
                    tally.details[kind][detail] += n
        return {
            "files": written,
            "rows": sum(f["rows"] for f in written),
            "defects": tally.as_dict(),
        }

    def _manifest(self, day: int, sources: dict, truth: dict, behaviour: dict) -> dict:
        s = self.settings
        drift = [
            {
                "source": d.source,
                "column": d.column,
                "type": d.type,
                "since": self.calendar.iso(d.from_day),
            }
            for d in s.defects.schema_drift
            if day >= d.from_day
        ]
        return {
            "day": self.calendar.iso(day),
            "day_index": day,
            "seed": self.seed,
            "preset": s.preset,
            "settings": {
                "start": s.start,
                "positions_per_day": s.positions_per_day,
                "products": s.products,
                "late_max_days": s.late_max_days,
                "defect_rates": {k: dict(v) for k, v in sorted(s.defects.sources.items())},
            },
            "schema_drift": drift,
            "not_simulated": self.not_simulated,
            "sources": sources,
            "truth": truth,
            "behaviour": {**behaviour, "settings": behaviour_settings(self.ctx)},
        }

    def _write_manifest(self, day: int, manifest: dict) -> None:
        folder = self.landing / MANIFEST_DIR
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{self.calendar.iso(day)}.json"
        tmp = folder / f".{target.name}.inprogress"
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, target)
