"""What a run tells people and machines: a line per table as it goes, and a summary."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from lakehouse.pipeline.execution import Event
from lakehouse.results import RefreshResult


def console_progress(out: TextIO = sys.stdout) -> Callable[[Event], None]:
    """One line per table as it starts and ends, for people watching a long run."""

    def show(event: Event) -> None:
        kind, ref = event["event"], event.get("table", "")
        if kind == "table_started":
            line = f"  .. {ref}"
        elif kind == "table_succeeded":
            line = (
                f"  ok {ref}: read {_n(event['rows_read'])}, wrote {_n(event['rows_written'])}, "
                f"updated {_n(event['rows_updated'])}"
                + (
                    f", quarantined {event['rows_quarantined']}"
                    if event.get("rows_quarantined")
                    else ""
                )
                + f" -> {_n(event['rows'])} rows, v{event['version']}"
                + (f", {event['strategy']}" if event.get("strategy") else "")
                + f" ({_jobs(event)}{event['seconds']:.1f}s)"
            )
        elif kind in ("table_up_to_date", "table_not_due"):
            line = f"  == {ref}: {event['note']} ({event['seconds']:.1f}s)"
        elif kind in ("table_failed", "table_data_quality_failed"):
            first = (event.get("error") or "").splitlines()[0:1]
            line = f"  !! {ref} {kind.removeprefix('table_')}: {first[0] if first else ''}"
        elif kind == "table_skipped":
            line = f"  -- {ref} skipped ({event.get('error')})"
        else:
            line = "  " + " ".join(f"{k}={v}" for k, v in event.items())
        print(line, file=out, flush=True)

    return show


def _jobs(event: Event) -> str:
    return f"{event['spark_jobs']} jobs, " if event.get("spark_jobs") is not None else ""


def _n(value: object) -> str:
    return "-" if value is None else str(value)


def json_progress(out: TextIO = sys.stdout) -> Callable[[Event], None]:
    """One JSON object per line, for machines (log shippers, orchestrators)."""

    def show(event: Event) -> None:
        print(
            json.dumps(
                {"ts": datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z", **event},
                default=str,
            ),
            file=out,
        )
        out.flush()

    return show


def format_reports(reports: list[RefreshResult]) -> str:
    header = (
        f"{'layer':<7} {'table':<24} {'status':<10} {'rows':>10} {'written':>8} "
        f"{'updated':>8} {'version':>8} {'seconds':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in reports:
        version = "-" if r.version is None else str(r.version)
        lines.append(
            f"{r.layer:<7} {r.table:<24} {r.status[:10]:<10} {_n(r.rows):>10} "
            f"{_n(r.rows_written):>8} {_n(r.rows_updated):>8} {version:>8} {r.seconds:>8.1f}"
            + (f"  {r.note}" if r.note else "")
        )
    return "\n".join(lines)
