"""Configuration: ``conf/lakehouse.yaml`` and one YAML file per table in, validated typed
objects out; every error names the file, the key and what is allowed.

Modules: ``loader`` (reading YAML, ``${VAR}``), ``settings`` (storage, profiles, operations),
``tables`` (the bronze, silver and gold blocks), ``connectors`` (Kafka, JDBC),
``harmonisation``, ``expectations`` (quality suites), ``secrets`` (values named by
configuration, from the environment or files), ``project`` (all of it, with paths).

Example::

    from lakehouse.config import load_project

    project = load_project("conf/lakehouse.yaml")
    orders = project.table("silver.orders")
    orders.spec.keys, project.table_path(orders)
"""

from lakehouse.config.loader import ConfigError
from lakehouse.config.project import Project, load_project
from lakehouse.config.tables import Table

__all__ = ["ConfigError", "Project", "Table", "load_project"]
