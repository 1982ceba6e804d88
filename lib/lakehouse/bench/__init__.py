"""The benchmark harness: how fast the pipeline is against the floor (plain Spark writing the
same files as Delta), against the naive full rebuild, and how a day's cost grows with history.

``harness.run_scale`` runs one scale; ``report`` turns the steps into ratios, JSON and
Markdown. ``jobs/bench.py`` is the command line.
"""
