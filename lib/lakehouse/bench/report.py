"""The benchmark's verdict: ratios measured in the same run against the targets, as JSON and
as a Markdown table."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lakehouse.bench.figures import ScaleResult, Step

SCHEDULED_STEP = "scheduled_models"  # the step timing the models refresh_every schedules


@dataclass(frozen=True)
class Target:
    name: str
    measured: float | None
    goal: str  # e.g. "<= 3.0"
    detail: str

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        op, limit = self.goal.split()
        return self.measured <= float(limit) if op == "<=" else self.measured >= float(limit)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "measured": self.measured,
            "goal": self.goal,
            "met": self.met,
            "detail": self.detail,
        }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def _median_seconds(steps: list[Step]) -> float:
    return statistics.median(s.seconds for s in steps)


# Strategies of a model refreshed by what changed, as opposed to built or rebuilt whole.
INCREMENTAL = ("merge_keys", "replace_partitions", "additive", "scd2_versions")


def jobs_by_strategy(steps: list[Step]) -> dict[str, list[int]]:
    """Spark jobs of each gold refresh in ``steps``, by strategy."""
    out: dict[str, list[int]] = {}
    for step in steps:
        for ref, refresh in step.refreshes.items():
            if ref.startswith("gold.") and refresh.get("jobs") is not None and refresh["strategy"]:
                out.setdefault(refresh["strategy"], []).append(refresh["jobs"])
    return out


def targets(result: ScaleResult) -> list[Target]:
    """The ratios of a scale, each once the steps it needs have run (a run that stopped early,
    or one told to skip a step, still reports the ratios it can)."""
    names = {s.name for s in result.steps}
    large = [s for s in result.steps_named("increment") if s.history == "large"]
    small = [s for s in result.steps_named("increment") if s.history == "small"]
    out = []
    if {"floor", "full_load"} <= names:
        floor, full = result.step("floor"), result.step("full_load")
        out.append(
            Target(
                "full initial load / floor",
                _ratio(full.seconds, floor.seconds),
                "<= 4.0",
                f"{full.seconds:.0f}s vs {floor.seconds:.0f}s",
            )
        )
    if large and small:
        day_large, day_small = _median_seconds(large), _median_seconds(small)
        out.append(
            Target(
                f"daily increment, {result.scale.smaller}x history / small history",
                _ratio(day_large, day_small),
                "<= 1.3",
                f"median {day_large:.0f}s vs {day_small:.0f}s",
            )
        )
    if large and "naive_rebuild" in names:
        naive, day_large = result.step("naive_rebuild"), _median_seconds(large)
        out.append(
            Target(
                "naive rebuild / daily increment",
                _ratio(naive.seconds, day_large),
                ">= 10" if result.scale.positions >= 10_000_000 else ">= 5",
                f"{naive.seconds:.0f}s vs median {day_large:.0f}s",
            )
        )
    if {"naive_rebuild", "silver_no_expectations"} <= names:
        silver_with = result.step("naive_rebuild").layers.get("silver", 0.0)
        plain = result.step("silver_no_expectations")
        out.append(
            Target(
                "silver with expectations / without",
                _ratio(silver_with, plain.seconds),
                "<= 1.25",
                f"{silver_with:.0f}s vs {plain.seconds:.0f}s (silver from all of bronze)",
            )
        )
    if {"nothing_landed", "spark_floor"} <= names:
        nothing, spark_floor = result.step("nothing_landed"), result.step("spark_floor")
        out.append(
            Target(
                "run with nothing landed / Spark start-up floor",
                _ratio(nothing.seconds, spark_floor.seconds),
                "<= 2",
                f"{nothing.seconds:.0f}s vs {spark_floor.seconds:.0f}s (one spark-submit each)",
            )
        )
    if {"silver_spark_checks_only", "silver_no_expectations"} <= names:
        checks, plain = (
            result.step("silver_spark_checks_only"),
            result.step("silver_no_expectations"),
        )
        out.append(
            Target(
                "silver, Spark checks without GX report / without expectations",
                _ratio(checks.seconds, plain.seconds),
                "<= 1.25",
                f"{checks.seconds:.0f}s vs {plain.seconds:.0f}s",
            )
        )
    if large and SCHEDULED_STEP in names:
        models, day_large = result.step(SCHEDULED_STEP), _median_seconds(large)
        each = ", ".join(
            f"{ref.split('.')[-1]} {s:.0f}s" for ref, s in sorted(models.tables.items())
        )
        out.append(
            Target(
                "scheduled models on a day they are due / daily increment",
                _ratio(models.seconds, day_large),
                "<= 0.2",
                f"{models.seconds:.0f}s ({each}) vs median {day_large:.0f}s",
            )
        )
    incremental = [
        n for s, jobs in jobs_by_strategy(large).items() if s in INCREMENTAL for n in jobs
    ]
    if incremental:
        median, most = statistics.median(incremental), max(incremental)
        detail = f"{len(incremental)} refreshes of the large history's days"
        out.append(
            Target("Spark jobs per incremental model refresh, median", median, "<= 8", detail)
        )
        out.append(Target("Spark jobs per incremental model refresh, max", most, "<= 20", detail))
    if large and small:
        heaviest_large = max(s.live_heap_mb for s in large)
        heaviest_small = max(s.live_heap_mb for s in small)
        out.append(
            Target(
                "driver live heap after a day, large history / small history",
                _ratio(heaviest_large, heaviest_small),
                "<= 1.3",
                f"{heaviest_large:.0f} MB vs {heaviest_small:.0f} MB "
                f"(heap limit {result.heap_max_mb:.0f} MB)",
            )
        )
    return out


def memory_across_scales(results: list[ScaleResult]) -> list[Target]:
    """Flat driver memory as data grows: the biggest scale's peaks over the smallest's."""
    if len(results) < 2:
        return []
    first, last = results[0], results[-1]
    growth = last.scale.positions / first.scale.positions
    out = []
    for label, attr in (
        ("driver live heap", "live_heap_mb"),
        ("Python driver RSS", "python_rss_peak_mb"),
    ):
        a = max(getattr(s, attr) for s in first.steps)
        b = max(getattr(s, attr) for s in last.steps)
        out.append(
            Target(
                f"peak {label}, {last.scale.positions:,} / {first.scale.positions:,} positions",
                _ratio(b, a),
                "<= 1.5",
                f"{b:.0f} MB vs {a:.0f} MB for {growth:.0f}x the data",
            )
        )
    return out


def as_json(results: list[ScaleResult]) -> dict:
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": _cpus(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "scales": [{**r.as_dict(), "targets": [t.as_dict() for t in targets(r)]} for r in results],
        "across_scales": [t.as_dict() for t in memory_across_scales(results)],
    }


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _mb(n: float) -> str:
    return f"{n / 1_000_000:,.1f}"


def _verdict(t: Target) -> str:
    return {True: "met", False: "**missed**", None: "n/a"}[t.met]


def markdown(results: list[ScaleResult]) -> str:
    lines = []
    for r in results:
        s = r.scale
        sim = r.simulation
        lines += [
            f"### {s.positions:,} order positions over {s.history_days} days "
            f"({s.positions_per_day:,} a day)",
            "",
            f"Landing: {sim['files']:,} files, {_mb(sim['bytes'])} MB, {sim['rows']:,} rows "
            f"in {sim['days']} days (simulated in {sim['seconds']:.0f}s). "
            f"Heap limit {r.heap_max_mb:,.0f} MB; {r.parallelism} tables side by side.",
            "",
            "| step | history | rows in | seconds | rows/s | bronze s | silver s | gold s "
            "| heap peak MB | live heap MB | py RSS MB "
            "| MERGE files scanned / total | MERGE MB scanned / total |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for step in r.steps:
            merges = step.merges.values()
            scanned = sum(m["files_scanned"] for m in merges)
            before = sum(m["files_before_skipping"] for m in merges)
            b_scanned = sum(m["bytes_scanned"] for m in merges)
            b_before = sum(m["bytes_before_skipping"] for m in merges)
            layer = [
                f"{step.layers[x]:.0f}" if x in step.layers else ""
                for x in ("bronze", "silver", "gold")
            ]
            lines.append(
                f"| {step.name} | {step.history} | {step.rows:,} | {step.seconds:.0f} "
                f"| {step.rows_per_second:,.0f} | {' | '.join(layer)} "
                f"| {step.heap_peak_mb:,.0f} | {step.live_heap_mb:,.0f} "
                f"| {step.python_rss_peak_mb:,.0f} "
                f"| {scanned:,} / {before:,} | {_mb(b_scanned)} / {_mb(b_before)} |"
            )
        for step in r.steps:
            if step.not_due:
                lines += [
                    "",
                    f"{step.name} ({step.history}) left alone, not due by their refresh_every: "
                    + ", ".join(step.not_due),
                ]
        by_strategy = jobs_by_strategy(
            [s for s in r.steps_named("increment") if s.history == "large"]
        )
        if by_strategy:
            lines += [
                "",
                "| gold strategy (days on the large history) | refreshes | Spark jobs median | max |",
                "|---|--:|--:|--:|",
            ]
            for strategy, jobs in sorted(by_strategy.items()):
                lines.append(
                    f"| {strategy} | {len(jobs)} | {statistics.median(jobs):g} | {max(jobs)} |"
                )
        lines += ["", "| target | measured | goal | verdict | detail |", "|---|--:|--:|---|---|"]
        for t in targets(r):
            lines.append(
                f"| {t.name} | {'' if t.measured is None else t.measured} | {t.goal} "
                f"| {_verdict(t)} | {t.detail} |"
            )
        if r.error:
            lines += ["", f"**The run stopped**: {r.error.splitlines()[0]}"]
        if not r.merge_metrics_complete:
            lines += [
                "",
                "Spark dropped some SQL executions before they were read: MERGE figures are partial.",
            ]
        lines.append("")
    across = memory_across_scales(results)
    if across:
        lines += [
            "### Across scales",
            "",
            "| target | measured | goal | verdict | detail |",
            "|---|--:|--:|---|---|",
        ]
        lines += [
            f"| {t.name} | {t.measured} | {t.goal} | {_verdict(t)} | {t.detail} |" for t in across
        ]
        lines.append("")
    return "\n".join(lines)


def write(results: list[ScaleResult], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_file, md_file = folder / "results.json", folder / "results.md"
    json_file.write_text(json.dumps(as_json(results), indent=2) + "\n")
    md_file.write_text(markdown(results))
    return json_file, md_file
