"""Failures a run reports differently from a crash, so an orchestrator can tell them apart."""

from __future__ import annotations


class DataQualityError(RuntimeError):
    """The data broke a rule that must stop the run (not a bug, not an outage).

    Raise it from any refresh, including inside a streaming micro-batch: there Spark wraps the
    Python exception into its own, so the runner also recognises it by this class's name in
    the wrapped message.
    """


def is_data_quality_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DataQualityError) or DataQualityError.__name__ in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


# What a job's exit code tells an orchestrator. 2 is also argparse's code for a bad command line.
EXIT_OK = 0
EXIT_ERROR = 1  # a bug or an outage: look at the log, retrying may help
EXIT_USAGE = 2  # bad command line or configuration: retrying will not help
EXIT_DATA_QUALITY = 3  # the data broke a rule: fix or quarantine the data, then rerun
EXIT_BUSY = 4  # another run holds the warehouse: retry later
