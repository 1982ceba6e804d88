"""Offline evaluation of gold.mart_recommendations: the last week of sales held out; the
blend's parameters chosen on the week before it; popularity, the association rules, ALS and the
blend trained on what came before and scored on the held-out week (hit rate@5, precision@5,
recall@10, NDCG@10, catalogue coverage)."""

import json
import sys

from lakehouse import errors
from lakehouse.marts.recommend_eval import evaluate, format_scores
from lakehouse.runtime import cli, job

MART = "gold.mart_recommendations"
FACT = "gold.fct_order_positions"


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument(
        "--days", type=int, default=7, help="days held out, and validated on (default 7)"
    )
    p.add_argument(
        "--no-tune", action="store_true", help="use the mart's YAML params, choose nothing"
    )
    args = p.parse_args()
    if args.days < 1:
        p.error("--days must be at least 1")
    return job.run(
        "recommend-eval", args, lambda work: run(work, args), lock=False, needs_key=False
    )


def run(work: job.Work, args) -> int:
    lines = work.read(FACT)
    params = work.project.table(MART).spec.params
    result = evaluate(lines, params, args.days, tuned=not args.no_tune, say=print)
    print(
        f"{FACT}: {result.train_baskets} training baskets up to {result.as_of};"
        f" the {args.days} days after held out"
    )
    if not args.no_tune:
        chosen = {k: result.chosen[k] for k in ("als", "weights")}
        print(f"chosen on the validation week: {json.dumps(chosen)}")
    print(format_scores(result.scores))
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
