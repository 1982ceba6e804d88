"""Data quality: the suites of ``expectations/`` (``config.expectations``) judged row by row as
Spark expressions (``rules``, ``check``), with their actions (warn, quarantine, fail), the
results and quarantine tables (``store``) and Great Expectations' validation and Data Docs
(``gx_validation``; ``gx_mirror`` keeps them in a warehouse on object storage).

Example::

    from lakehouse.silver.quality import check

    flagged = check.flag(batch, project.suites["silver.orders"], ("order_id",))
    total, leaving, outcomes = check.outcomes(flagged, project.suites["silver.orders"])
"""
