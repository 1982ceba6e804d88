"""Silver: one clean, typed, deduplicated row per business key, no personal data in clear.

Each run streams the bronze rows that arrived since the last one (``stream``); a micro-batch
(``micro_batch``) protects personal data (``pii``), computes and harmonises the columns
(``conform``, ``harmonise``), judges the rows by the table's expectations (``quality``),
quarantines what must leave, and writes the latest version of each key (``latest``), deletes
included (``deletes``).

Example::

    from lakehouse import silver

    result = silver.refresh(spark, project, project.table("silver.orders"), ctx)
    result.rows_read, result.rows_quarantined
"""

from lakehouse.silver.stream import refresh

__all__ = ["refresh"]
