"""The runner: choose tables from the YAML graph (``selection``), run them in dependency
order (``execution``), tell what happened (``reporting``) and record it in the run log
(``recorded``)."""

from lakehouse.pipeline.execution import (
    DEFAULT_PARALLELISM,
    REFRESH_BY_LAYER,
    PipelineFailed,
    numbers,
    refresh_table,
    run,
)
from lakehouse.pipeline.reporting import console_progress, format_reports, json_progress
from lakehouse.pipeline.selection import (
    Selection,
    check_days,
    days_between,
    describe_run,
    downstream_of,
    format_plan,
    select,
    upstream_of,
    waves,
)

__all__ = [
    "DEFAULT_PARALLELISM",
    "REFRESH_BY_LAYER",
    "PipelineFailed",
    "Selection",
    "check_days",
    "console_progress",
    "days_between",
    "describe_run",
    "downstream_of",
    "format_plan",
    "format_reports",
    "json_progress",
    "numbers",
    "refresh_table",
    "run",
    "select",
    "upstream_of",
    "waves",
]
