"""Storage: the Delta and Hadoop plumbing every layer shares.

Modules: ``delta_tables`` (create, exists, latest version), ``delta_log`` (a table's log read
as files, without a Spark job), ``exactly_once`` (micro-batches that commit once),
``hadoop_fs`` (any URI through Hadoop's FileSystem), ``key_date_layout`` (tables laid out by
the business date their keys carry), ``fingerprint`` (whether a table's inputs changed),
``catalog`` (tables known by name).

Example::

    from lakehouse.storage import delta_tables, key_date_layout

    delta_tables.current_version(spark, project.table_path(table))  # no Spark job
    rows.where(key_date_layout.on_key_dates("", [date(2026, 3, 1)], monthly=True))
"""
