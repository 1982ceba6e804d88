"""Failures a run reports differently from a crash, so an orchestrator can tell them apart."""

from __future__ import annotations


class DataQualityError(RuntimeError):
    """The data broke a rule that must stop the run (not a bug, not an outage).

    Raise it from any refresh, including inside a streaming micro-batch: the stream helper
    (``delta_io.for_each_batch_exactly_once``) hands it back to the runner as itself.
    """


class SourceUnavailable(RuntimeError):
    """A source system (a broker, a database) could not be reached or read: an outage, not
    bad data."""


# What a job's exit code tells an orchestrator. 2 is also argparse's code for a bad command line.
EXIT_OK = 0
EXIT_ERROR = 1  # a bug or an outage: look at the log, retrying may help
EXIT_USAGE = 2  # bad command line or configuration: retrying will not help
EXIT_DATA_QUALITY = 3  # the data broke a rule: fix or quarantine the data, then rerun
EXIT_BUSY = 4  # another run holds the warehouse: retry later
