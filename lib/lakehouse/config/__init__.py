"""Configuration: YAML in, validated typed objects out."""

from lakehouse.config.loader import ConfigError
from lakehouse.config.model import Table
from lakehouse.config.project import Project, load_project

__all__ = ["ConfigError", "Project", "Table", "load_project"]
