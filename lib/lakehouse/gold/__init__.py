"""Gold: models declared as SQL (or a DataFrame function) over their inputs, rebuilt only for
the keys that changed.

A model names, for each input that carries its key, the expression that yields the key
(``changes``); for a lookup (a dimension), a query that maps its changed rows to the keys they
affect. The keys touched since the last run come from the inputs' Change Data Feed; the model
then runs over the inputs restricted to those keys, and the result replaces exactly those keys
in the table, in one MERGE that names the partitions it may touch.

Two variants share that machinery:

- ``scd2``: the changed source rows are versions of a business key. They are merged with the
  versions already in the table and collapsed into validity ranges (``scd2_history``).
- ``incremental: false``: models that depend on all rows at once (global ranks, trained
  models) are recomputed whole whenever an input changed; unchanged rows are still not
  rewritten.

A model with ``refresh_every`` is refreshed at most once per that interval; a run in between
leaves it alone without starting its stream, so its changes wait in the inputs' feeds.

Modules: ``build`` (a model's rows over its inputs), ``dimensions`` (SCD2 history, the
unknown member), ``changes`` (what changed), ``additive`` (running totals), ``writers`` (the
writes each strategy runs: MERGE by key, replaceWhere, a first build's append), ``schedule``
(``refresh_every``), ``refresh`` (a run).

Example::

    from lakehouse import gold

    result = gold.refresh(spark, project, project.table("gold.fct_orders"), ctx)
    result.keys_changed  # None on a first build, where every key is new
"""

from lakehouse.gold.build import build_model, few_values, name_views, restrict
from lakehouse.gold.dimensions import scd2_history
from lakehouse.gold.refresh import refresh
from lakehouse.gold.writers import merge_keys
from lakehouse.storage.catalog import register, register_all

__all__ = [
    "build_model",
    "few_values",
    "merge_keys",
    "name_views",
    "refresh",
    "register",
    "register_all",
    "restrict",
    "scd2_history",
]
