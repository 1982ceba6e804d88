"""Gold models that SQL cannot express, as functions from DataFrames to a DataFrame, named
in a model's YAML (``transform: lakehouse.marts.recommendations:recommend``), and their
offline evaluations.

Example::

    from lakehouse.marts.recommendations import recommend

    rules = recommend(lines=fct_order_positions, top_n=5, min_confidence=0.05)
"""
