"""Offline evaluation of gold.mart_recommendations: hold out each customer's last week of
baskets, train the mart's recommender (its YAML params) on the rest, and print hit rate and
precision@k beside a most-popular baseline."""

import sys

from lakehouse import errors
from lakehouse.marts.recommend_eval import evaluate, format_scores
from lakehouse.runtime import cli, job

MART = "gold.mart_recommendations"
FACT = "gold.fct_order_positions"


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--days", type=int, default=7, help="days held out per customer (default 7)")
    p.add_argument("-k", type=int, default=5, help="recommendations judged (default 5)")
    args = p.parse_args()
    if args.days < 1 or args.k < 1:
        p.error("--days and -k must be at least 1")
    return job.run(
        "recommend-eval", args, lambda work: run(work, args), lock=False, needs_key=False
    )


def run(work: job.Work, args) -> int:
    path = work.project.table_path(work.project.table(FACT))
    try:
        lines = work.spark.read.format("delta").load(path)
    except Exception as err:  # a missing table: say which, not a stack trace
        print(f"recommend_eval: cannot read {FACT} at {path}: {err}", file=sys.stderr)
        return errors.EXIT_ERROR
    params = work.project.table(MART).spec.params
    scores, baskets = evaluate(lines, params, args.days, args.k)
    print(f"{FACT}: {baskets} training baskets; last {args.days} days of each customer held out")
    print(format_scores(scores))
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
