"""What a benchmark scale is (``Scale``) and what its steps measured (``Step``,
``ScaleResult``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lakehouse.pipeline.execution import DEFAULT_PARALLELISM


@dataclass(frozen=True)
class Scale:
    """``positions`` order positions over ``history_days`` days; every other system follows
    from the positions of a day (see ``simulator_overrides``)."""

    positions: int
    history_days: int = 365
    increments: int = 3
    smaller: int = 10  # the small history has 1/smaller of the days
    seed: int = 42
    preset: str = "bench"

    @property
    def positions_per_day(self) -> int:
        return max(1, round(self.positions / self.history_days))

    @property
    def history(self) -> tuple[int, ...]:
        return tuple(range(self.history_days))

    @property
    def small_history(self) -> tuple[int, ...]:
        """Day 0 (the initial customer and catalogue exports) and the last 1/smaller of the days:
        the same recent days the increments' late records go back to."""
        recent = max(1, self.history_days // self.smaller - 1)
        return (0, *range(self.history_days - recent, self.history_days))

    @property
    def increment_days(self) -> tuple[int, ...]:
        return tuple(range(self.history_days, self.history_days + self.increments))

    def validate(self) -> None:
        if self.history_days < 2 * self.smaller:
            raise ValueError(
                f"history_days must be at least {2 * self.smaller} for a history "
                f"{self.smaller} times smaller (got {self.history_days})"
            )
        if self.increments < 1:
            raise ValueError("at least one daily increment is needed")


def simulator_overrides(scale: Scale) -> dict[str, int]:
    """Catalogue and customer base grow with the business: stock levels (products x shops per
    day) stay about as many rows as order positions."""
    per_day = scale.positions_per_day
    return {
        "positions_per_day": per_day,
        "products": max(50, per_day // 10),
        "initial_customers": max(100, per_day),
    }


@dataclass
class Step:
    name: str
    history: str  # large | small | - (what the warehouse held before the step)
    seconds: float
    rows: int  # rows the step took in: landed rows, or bronze rows for a rebuild
    layers: dict[str, float] = field(default_factory=dict)
    tables: dict[str, float] = field(default_factory=dict)
    heap_peak_mb: float = 0.0  # heap in use, garbage included (bounded by the heap limit)
    live_heap_mb: float = 0.0  # heap in use after a full collection at the end of the step
    python_rss_peak_mb: float = 0.0
    merges: dict[str, dict[str, int]] = field(default_factory=dict)
    # Models the step left alone because their refresh_every had not passed (weekly models).
    not_due: list[str] = field(default_factory=list)
    # table -> {"strategy": how gold refreshed it, "jobs": the Spark jobs its refresh ran}
    refreshes: dict[str, dict] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "rows_per_second": round(self.rows_per_second, 1)}


@dataclass
class ScaleResult:
    scale: Scale
    simulation: dict
    steps: list[Step]
    heap_max_mb: float
    parallelism: int = DEFAULT_PARALLELISM
    merge_metrics_complete: bool = True
    error: str | None = None  # the step that failed and why; the steps before it stand

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def steps_named(self, prefix: str) -> list[Step]:
        return [s for s in self.steps if s.name.startswith(prefix)]

    def as_dict(self) -> dict:
        return {
            "scale": dataclasses.asdict(self.scale),
            "positions_per_day": self.scale.positions_per_day,
            "simulation": self.simulation,
            "heap_max_mb": self.heap_max_mb,
            "parallelism": self.parallelism,
            "merge_metrics_complete": self.merge_metrics_complete,
            "error": self.error,
            "steps": [s.as_dict() for s in self.steps],
        }
