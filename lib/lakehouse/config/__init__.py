"""Configuration: ``conf/lakehouse.yaml`` and one YAML file per table in, validated typed
objects out; every error names the file, the key and what is allowed.

Each kind of YAML block is a frozen pydantic model (``yaml_model``: unknown keys refused,
``${VAR}`` expanded, shorthands read); ``reading`` turns pydantic's errors into
``ConfigError``. Modules: ``settings`` (lakehouse.yaml: storage, profiles, operations),
``tables`` (one file per table: ``bronze_spec``, ``silver_spec``, ``gold_spec``,
``table_blocks``), ``connectors`` (Kafka, JDBC), ``harmonisation``, ``expectations`` (quality
suites), ``simulation`` (the simulator's presets and defects), ``json_schema`` (the JSON
Schema of each kind of file), ``secrets`` (values named by configuration, from the
environment or files), ``project`` (all of it, with paths).

Example::

    from lakehouse.config import load_project

    project = load_project("conf/lakehouse.yaml")
    orders = project.table("silver.orders")
    orders.spec.keys, project.table_path(orders)
"""

from lakehouse.config.project import Project, load_project
from lakehouse.config.reading import ConfigError
from lakehouse.config.tables import Table

__all__ = ["ConfigError", "Project", "Table", "load_project"]
