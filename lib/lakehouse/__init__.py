"""A YAML-configured lakehouse of PySpark jobs over Delta Lake, one package per layer.

The tree reads like the medallion; a package imports only those above it in this list
(``tests/test_layers.py`` holds it so):

- ``context``, ``results``, ``errors``: what every layer shares (a run's options, a
  refresh's result, the failures an orchestrator tells apart)
- ``config``: the YAML, validated into typed objects
- ``storage``: Delta and Hadoop plumbing (tables, their log, exactly-once streams, the
  key-date layout, input fingerprints, catalog names)
- ``bronze``, ``silver``, ``gold``: the layers, and ``marts``: gold models written in Python
- ``pipeline``: the runner over the YAML graph
- ``ops``: the run log, the warehouse lock, maintenance, erasure
- ``runtime``: what every job does (configuration, session, lock, exit codes)
- ``simulator``, ``serving``, ``bench``: the retailer's systems, the API and dashboard, the
  benchmark

Example::

    from lakehouse import pipeline
    from lakehouse.config import load_project
    from lakehouse.context import RunContext
    from lakehouse.runtime.session import build_session

    project = load_project("conf/lakehouse.yaml")
    spark = build_session(project)
    pipeline.run(spark, project, RunContext(run_id="r1", profile="local"))
"""
