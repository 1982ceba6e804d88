"""A YAML-configured lakehouse of PySpark jobs over Delta Lake."""
