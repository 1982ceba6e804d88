"""Write small hand-made drops into a project's landing area, as an operational system would."""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.config import Project
from lakehouse.context import RunContext


def drop(project: Project, table_ref: str, file_name: str, text: str) -> Path:
    """Write ``text`` as one landed file of ``table_ref``'s source, atomically (temp + rename),
    the way a well-behaved exporter does so a reader never sees half a file."""
    folder = Path(project.landing_path(project.table(table_ref)))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{file_name}.tmp"
    tmp.write_text(text.strip() + "\n", encoding="utf-8")
    os.replace(tmp, folder / file_name)
    return folder / file_name


def csv(header: str, *rows: str) -> str:
    return "\n".join((header, *rows))


def run_ctx(run_id: str, **options) -> RunContext:
    """The context of a test's run: the local profile, as the tests' SparkSession has."""
    return RunContext(run_id=run_id, profile="local", **options)
