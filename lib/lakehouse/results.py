"""One result type for every layer's refresh: a status and the counts the run log shows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """How a table's refresh (or a whole run) ended. The values are what the run log stores."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UP_TO_DATE = "up_to_date"  # nothing new in its inputs: no stream, no job started
    NOT_DUE = "not_due"  # its refresh_every has not passed since its last refresh
    FAILED = "failed"
    DATA_QUALITY_FAILED = "data_quality_failed"  # a `fail` rule broke
    SKIPPED = "skipped"  # not run because something it reads failed
    ABANDONED = "abandoned"  # its process died; the next run took the lock over

    @property
    def ok(self) -> bool:
        return self in (Status.SUCCEEDED, Status.UP_TO_DATE, Status.NOT_DUE)


@dataclass(frozen=True)
class RefreshResult:
    """What refreshing one table did.

    A layer's refresh fills what only it knows (``rows_read``, ``rows_quarantined``,
    ``keys_changed``, ``files``, ``not_due_until``); the runner adds what Delta's log says
    (``version``, ``rows_written``, ``rows_updated``, ``rows_deleted``, ``rows``) and the time.
    None means "not measured", 0 means none.
    """

    ref: str  # layer.name
    status: Status = Status.SUCCEEDED
    rows_read: int | None = None
    rows_quarantined: int | None = None
    keys_changed: int | None = None  # gold; None on a first build, where every key is new
    files: int | None = None  # bronze: landed files taken
    not_due_until: datetime | None = None
    warnings: tuple[str, ...] = ()  # what the run accepted but a person should know (drifts)
    strategy: str | None = None  # gold: how the plan refreshed it (merge_keys, additive ...)
    plan: str | None = None  # gold: why
    spark_jobs: int | None = None  # Spark jobs the refresh ran, Delta's own included
    rows: int | None = None  # rows in the table after the refresh; None: not counted
    version: int | None = None
    rows_written: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def layer(self) -> str:
        return self.ref.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.ref.split(".", 1)[1]

    @property
    def note(self) -> str | None:
        """Why a table that ended well did nothing."""
        if self.not_due_until is not None:
            return f"not due until {self.not_due_until:%Y-%m-%d %H:%M} UTC"
        if self.status is Status.UP_TO_DATE:
            return "up to date"
        return None

    def with_(self, **changes) -> RefreshResult:
        return dataclasses.replace(self, **changes)
