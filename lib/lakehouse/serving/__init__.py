"""Serving: a read-only HTTP API and a dashboard over the gold tables, without a JVM
(delta-rs and DuckDB over one committed version of each table per request).

Modules: ``snapshot`` (reading gold), ``queries`` (the business questions as SQL),
``params`` (every query parameter with its checks), ``app`` (FastAPI routes and the
dashboard), ``security`` (headers, token), ``server`` (uvicorn with bounded request heads,
listening before it says so), ``load_bench`` (latency under load).

Example::

    scripts/serve.sh              # http://127.0.0.1:8000/, OpenAPI at /docs
    from lakehouse.serving.app import create_app
    app = create_app(GoldReader(load_project("conf/lakehouse.yaml"), list(SERVED_TABLES)))
"""
