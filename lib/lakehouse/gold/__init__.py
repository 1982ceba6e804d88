"""Gold: models declared as SQL (or a DataFrame function) over their inputs, refreshed by
the cheapest correct strategy for what changed.

A refresh plans, then executes (``plan``): from the model's YAML, its table's state and its
inputs' versions (``state``, read from the Delta logs without a Spark job) it picks one of a
closed set of strategies, each a way of computing rows (all inputs, the touched keys, the
changes added up, SCD2 versions) paired with a way of writing them (append, MERGE by key,
replaceWhere of the touched values, overwrite). ``strategies`` executes the pair. Each
input's changes since the versions a model consumed are read once per run and shared
(``change_sets``); the commit that writes records the versions consumed, so a killed refresh
is done again, never twice.

Modules: ``plan``, ``state``, ``strategies``, ``change_sets``, ``changes`` (touched keys),
``build`` (a model's rows over its inputs), ``additive`` (running totals), ``dimensions``
(SCD2 history, the unknown member), ``writers`` (MERGE by key, replaceWhere, first build,
overwrite), ``refresh`` (a model's run).

Example::

    from lakehouse import gold

    print(gold.plan(spark, project, project.table("gold.fct_orders"), ctx).describe())
    result = gold.refresh(spark, project, project.table("gold.fct_orders"), ctx)
    result.strategy, result.keys_changed   # "merge_keys", 412
"""

from lakehouse.gold.build import build_model, key_literals, name_views, restrict
from lakehouse.gold.change_sets import release as release_change_sets
from lakehouse.gold.dimensions import scd2_history
from lakehouse.gold.plan import PlanError
from lakehouse.gold.refresh import plan, refresh
from lakehouse.gold.writers import merge_keys
from lakehouse.storage.catalog import register, register_all

__all__ = [
    "PlanError",
    "build_model",
    "key_literals",
    "merge_keys",
    "name_views",
    "plan",
    "refresh",
    "register",
    "register_all",
    "release_change_sets",
    "restrict",
    "scd2_history",
]
