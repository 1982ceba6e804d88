"""Operations: what keeps a warehouse safe to run every day.

Modules: ``run_log`` (a Delta table of runs and tables), ``recorded_run`` (a pipeline run
recorded there from start to end, with its exit code), ``warehouse_lock`` (one writer at a
time), ``maintenance`` (OPTIMIZE, VACUUM, statistics), ``erasure`` (data subjects removed
from every layer and purged from history).

Example::

    from lakehouse.ops import run_log

    log = run_log.of(spark, project)
    log.last_runs(5)
"""
