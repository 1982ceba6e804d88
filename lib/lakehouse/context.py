"""The options of one run, in one frozen object handed to every layer's refresh."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class RunContext:
    """What a run was asked to do, as opposed to what the tables are (their YAML).

    ``profile`` is the one place the run's profile lives: the session, the PII key and
    anything else profile-dependent read it here. ``days`` restricts bronze to the files
    landed for those days; ``refresh_now`` lifts gold schedules (``refresh_every``).

    Example::

        ctx = RunContext(run_id="20270301T060000Z-ab12cd34", profile="cluster")
        silver.refresh(spark, project, project.table("silver.orders"), ctx)
    """

    run_id: str
    profile: str
    days: tuple[date, ...] = ()
    refresh_now: bool = False

    def __post_init__(self) -> None:
        if not self.run_id:
            raise ValueError("a run needs a run id")
        if not self.profile:
            raise ValueError("a run needs a profile")

    def derived(self, suffix: str, **changes) -> RunContext:
        """A run started by this one (erasure's catch-up, a demo day): same profile."""
        return dataclasses.replace(self, run_id=f"{self.run_id}-{suffix}", **changes)

    def describe(self) -> str:
        parts = [f"profile={self.profile}"]
        if self.days:
            first, last = min(self.days), max(self.days)
            parts.append(f"days={first}" + (f"..{last}" if last != first else ""))
        if self.refresh_now:
            parts.append("refresh_now")
        return " ".join(parts)
