"""The benchmark harness: how fast the pipeline is against the floor (plain Spark writing the
same files as Delta), against the naive full rebuild, and how a day's cost grows with history.

``harness`` runs one scale; ``report`` turns the steps into ratios, JSON and Markdown;
``source_bench`` times Kafka and PostgreSQL into bronze. ``jobs/bench.py`` is the command line.

Example::

    ./spark-submit.sh bench --positions 20000 --days 40    # a quick look
"""
