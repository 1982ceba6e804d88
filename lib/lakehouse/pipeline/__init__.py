"""The runner: choose tables from the YAML graph (``selection``), run them in dependency
order (``execution``) and tell what happened (``reporting``); ``continuous`` keeps Kafka
tables up to date until stopped. The run log records runs (``ops.recorded_run``).

Example::

    from lakehouse import pipeline

    tables = pipeline.select(project, pipeline.Selection(layers=("silver",)))
    results = pipeline.run(spark, project, ctx, tables)
"""

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
    gold_plans,
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
    "gold_plans",
    "json_progress",
    "numbers",
    "refresh_table",
    "run",
    "select",
    "upstream_of",
    "waves",
]
