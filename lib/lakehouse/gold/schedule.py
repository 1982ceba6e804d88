"""Scheduling: a model with ``refresh_every`` is refreshed at most once per interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

# The commits a refresh makes: the table's creation, a first build appended, a MERGE. Erasure
# overwrites (mode Overwrite), maintenance OPTIMIZEs and VACUUMs; neither is a refresh.
REFRESH_COMMIT = (
    "operation IN ('CREATE TABLE', 'MERGE')"
    " OR (operation = 'WRITE' AND operationParameters['mode'] = 'Append')"
)


def next_refresh(spark: SparkSession, path: str, every: timedelta) -> datetime | None:
    """When a model refreshed at most once per ``every`` is due again (UTC): ``every`` after
    its last refresh commit. None: no such commit, due now.

    A refresh whose result equals the table commits nothing, so the model stays due and the
    next run with changes rebuilds it again.
    """
    last = (
        DeltaTable.forPath(spark, path)
        .history()
        .where(REFRESH_COMMIT)
        # seconds since the epoch: free of the session's and the driver's time zones
        .agg(F.max(F.col("timestamp").cast("double")).alias("at"))
        .first()["at"]
    )
    return None if last is None else datetime.fromtimestamp(last, UTC) + every
