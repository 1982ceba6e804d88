"""Validate a batch with Great Expectations: its validation results and HTML Data Docs.

The suite's entries become GX expectations unchanged (same type, same kwargs), so what GX
reports is about exactly the rules the Spark checks enforced. One file-backed GX project per
warehouse keeps Data Docs under ``<root>/_quality/gx`` (for a root on object storage, a local
working copy mirrored there: ``gx_mirror``).
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame

from lakehouse.config.expectations import Suite
from lakehouse.config.settings import QualitySpec
from lakehouse.silver.quality import gx_mirror

# GX contexts are not thread-safe and the runner refreshes tables side by side. Only the
# warehouse's file-backed project (its stores and Data Docs) is shared, so only writing to it
# is serialized; each validation computes its metrics in a context of its own.
_LOCK = threading.Lock()
_CONTEXTS: dict[str, object] = {}
_PUSHED: dict[str, int] = {}  # working copy -> time (ns) of its last copy to the warehouse
SITE = "local_site"  # the file-backed site a new GX project comes with


@dataclass(frozen=True)
class GxResult:
    success: bool
    unexpected: dict[str, int]  # rule name -> GX's unexpected_count
    docs_index: str | None


def _quiet(context) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # GX draws a progress bar per metric batch: noise in job logs and CI output.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)


def _project(project_dir: Path, spark=None, mirror: str | None = None):
    """The warehouse's file-backed GX project: validation results and Data Docs; with a
    ``mirror``, its files there are fetched first."""
    import great_expectations as gx

    key = str(project_dir)
    if key not in _CONTEXTS:
        project_dir.mkdir(parents=True, exist_ok=True)
        if mirror:
            gx_mirror.pull(spark, mirror, project_dir)
            _PUSHED[key] = gx_mirror.clock(project_dir)  # what was fetched is there already
        context = gx.get_context(mode="file", project_root_dir=key)
        _quiet(context)
        context.variables.save()
        _CONTEXTS[key] = context
    return _CONTEXTS[key]


def _gx_suite(name: str, suite: Suite):
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    gx_suite = gx.ExpectationSuite(name=name)
    for entry in suite.expectations:
        gx_suite.expectations.append(
            get_expectation_impl(entry.type)(**entry.kwargs, meta={"rule": entry.name})
        )
    return gx_suite


def _checkpoint(name: str, suite: Suite):
    """A checkpoint in an in-memory context of its own, so that validations of different
    tables compute their metrics side by side instead of queueing for one shared context."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    _quiet(context)
    # The batch comes cached already (silver persists it for its own checks). GX would cache
    # a second copy and never release it: one more cached batch per table and run, for as
    # long as the Spark application lives.
    source = context.data_sources.add_spark("lakehouse", persist=False)
    batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("micro_batch")
    gx_suite = context.suites.add(_gx_suite(name, suite))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            result_format={"result_format": "BASIC"},
        )
    )


def _list_latest_runs(context, runs: int) -> None:
    """Bound the Data Docs index to the latest ``runs`` validation runs: the index is rebuilt
    after each batch by reading every run it lists."""
    sites = copy.deepcopy(context.list_data_docs_sites())
    site = sites.get(SITE)
    if site is None:
        return
    index = site.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
    if index.get("validation_results_limit") != runs:
        index["validation_results_limit"] = runs
        context.update_data_docs_site(SITE, site)


def validate(
    df: DataFrame,
    suite: Suite,
    gx_dir: Path,
    name: str,
    run_name: str,
    index_runs: int = QualitySpec().data_docs_index_runs,
    mirror: str | None = None,
) -> GxResult:
    """Validate ``df`` with ``suite``; store the result and its Data Docs in the project at
    ``gx_dir`` (copied to ``mirror``, the warehouse's folder, when the warehouse is not on
    this disk)."""
    with _LOCK:  # the first import of GX's many modules, one thread at a time
        import great_expectations as gx
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

    result = _checkpoint(name, suite).run(
        batch_parameters={"dataframe": df}, run_id=gx.RunIdentifier(run_name=run_name)
    )
    ((result_id, validation),) = result.run_results.items()
    unexpected = {
        r.expectation_config.meta["rule"]: int(r.result.get("unexpected_count") or 0)
        for r in validation.results
    }
    with _LOCK:
        project = _project(gx_dir, df.sparkSession, mirror)
        _list_latest_runs(project, index_runs)
        suite_id = ExpectationSuiteIdentifier(
            name=project.suites.add_or_update(_gx_suite(name, suite)).name
        )
        project.validation_results_store.store_validation_results(validation, result_id, suite_id)
        project.build_data_docs(resource_identifiers=[result_id, suite_id])
        sites = project.get_docs_sites_urls()
        if mirror:
            _PUSHED[str(gx_dir)] = gx_mirror.push(
                df.sparkSession, gx_dir, mirror, _PUSHED[str(gx_dir)]
            )
    return GxResult(
        success=bool(result.success),
        unexpected=unexpected,
        docs_index=sites[0]["site_url"] if sites else None,
    )
