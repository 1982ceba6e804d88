"""Offline evaluation of the recommendations: the last week of sales is held out, every method
is trained on what came before and judged on what the customers bought in that week.

Hyper-parameters (ALS's rank, regularisation and alpha; the blend's weights) are chosen on
a validation week, the week before the test week, with a model trained on the weeks before
it: the test week is looked at once, for the final figures.

Metrics, over the customers who bought both before and in the held-out week (a missing
recommendation counts as a miss): hit rate@5 (at least one of the first 5 bought), precision@5
(of the first 5, the share bought), recall@10 (of the products bought, the share in the first
10), NDCG@10 (the first 10 discounted by rank, over the best possible order) and catalogue
coverage (the share of the products sold in training that appear in someone's first 10).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.marts.recommendations import (
    blend,
    candidates,
    most_popular_unowned,
    owned_products,
    sold_lines,
)

K_SHORT, K_LONG = 5, 10
# The grids tried on the validation week: ALS first (alone), then the blend's weights.
ALS_GRID = {"rank": [16, 32], "reg": [0.05, 0.2], "alpha": [10.0, 40.0]}
WEIGHT_GRID = {
    "buy_again": [0.5, 1.0, 2.0],
    "bought_with": [0.5, 1.0, 2.0],
    "popular": [0.1, 0.3],
}


@dataclass(frozen=True)
class Score:
    method: str
    customers: int  # evaluated: bought before and in the held-out week
    hits: int  # customers with at least one of their first 5 bought
    relevant: int  # of the first 5, products bought, over all customers
    recall_sum: float  # sum over customers of recall@10
    ndcg_sum: float  # sum over customers of NDCG@10
    covered: int  # distinct products in someone's first 10
    catalogue: int  # distinct products sold in training

    @property
    def hit_rate(self) -> float:
        return self.hits / self.customers if self.customers else 0.0

    @property
    def precision(self) -> float:
        return self.relevant / (K_SHORT * self.customers) if self.customers else 0.0

    @property
    def recall(self) -> float:
        return self.recall_sum / self.customers if self.customers else 0.0

    @property
    def ndcg(self) -> float:
        return self.ndcg_sum / self.customers if self.customers else 0.0

    @property
    def coverage(self) -> float:
        return self.covered / self.catalogue if self.catalogue else 0.0


@dataclass
class Evaluation:
    scores: list[Score]
    train_baskets: int
    as_of: Any  # the last training day
    chosen: dict[str, Any] = field(default_factory=dict)  # the parameters the blend used
    tried: list[tuple[dict, float]] = field(default_factory=list)  # validation NDCG@10 per set


def split_last_week(lines: DataFrame, days: int = 7) -> tuple[DataFrame, DataFrame]:
    """(train, held_out): the sold lines of the last ``days`` days of the data are held out;
    everything before (anonymous till sales included) is for training."""
    sold = sold_lines(lines)
    last = sold.agg(F.max("order_date")).first()[0]
    if last is None:
        return sold, sold.limit(0)
    cut = F.date_sub(F.lit(last), days)
    return sold.where(F.col("order_date") <= cut), sold.where(F.col("order_date") > cut)


def score(
    method: str, recommended: DataFrame, train: DataFrame, held_out: DataFrame, catalogue: int
) -> Score:
    """The metrics of ``recommended`` (customer_id, rank, product_id) on ``held_out``."""
    known = train.where("customer_id IS NOT NULL").select("customer_id").distinct()
    truth = (
        held_out.where("customer_id IS NOT NULL")
        .select("customer_id", "product_id")
        .distinct()
        .join(known, "customer_id")
    )
    evaluated = truth.groupBy("customer_id").agg(F.count("*").alias("bought"))
    top = recommended.where(F.col("rank") <= K_LONG).join(evaluated, "customer_id")
    hit = top.join(truth.withColumn("_hit", F.lit(1)), ["customer_id", "product_id"], "left")
    ideal = F.aggregate(
        F.sequence(F.lit(1), F.least(F.col("bought"), F.lit(K_LONG))),
        F.lit(0.0),
        lambda acc, i: acc + 1 / F.log2(i + 1),
    )
    per_customer = hit.groupBy("customer_id", "bought").agg(
        F.sum(F.when((F.col("rank") <= K_SHORT) & F.col("_hit").isNotNull(), 1).otherwise(0)).alias(
            "short"
        ),
        F.sum(F.coalesce("_hit", F.lit(0))).alias("long"),
        F.sum(F.coalesce("_hit", F.lit(0)) / F.log2(F.col("rank") + 1)).alias("dcg"),
    )
    totals = per_customer.agg(
        F.sum(F.when(F.col("short") > 0, 1).otherwise(0)).alias("hits"),
        F.sum("short").alias("relevant"),
        F.sum(F.col("long") / F.col("bought")).alias("recall"),
        F.sum(F.col("dcg") / ideal).alias("ndcg"),
    ).first()
    return Score(
        method=method,
        customers=evaluated.count(),
        hits=totals["hits"] or 0,
        relevant=totals["relevant"] or 0,
        recall_sum=float(totals["recall"] or 0.0),
        ndcg_sum=float(totals["ndcg"] or 0.0),
        covered=top.select("product_id").distinct().count(),
        catalogue=catalogue,
    )


def popular_baseline(train: DataFrame, k: int) -> DataFrame:
    """customer_id, rank, product_id: the k most bought products each customer has not."""
    sold = sold_lines(train)
    ranked = most_popular_unowned(sold, owned_products(sold), k)
    return ranked.select("customer_id", F.col("prio").alias("rank"), "product_id")


def _split_params(params: dict[str, Any]) -> tuple[dict, dict]:
    """(the candidates' settings, the blend's weights) of the mart's params."""
    settings = {k: v for k, v in params.items() if k not in ("weights", "top_n", "sources")}
    return settings, dict(params.get("weights") or {})


def tune(lines: DataFrame, params: dict[str, Any], days: int, say: Callable[[str], None]):
    """The blend's parameters chosen on the validation week (the last ``days`` of
    ``lines``, trained on the days before): ALS's on ALS alone, then the weights on the
    blend. Returns the parameters and what each tried set scored (NDCG@10)."""
    train, valid = split_last_week(lines, days)
    train, valid = train.persist(), valid.persist()
    settings, weights = _split_params(params)
    tried: list[tuple[dict, float]] = []
    try:
        catalogue = train.select("product_id").distinct().count()
        best_als, best = dict(settings.get("als") or {}), -1.0
        for values in itertools.product(*ALS_GRID.values()):
            als = {**best_als, **dict(zip(ALS_GRID, values, strict=True))}
            found = candidates(train, K_LONG, ["customers_like_you"], **{**settings, "als": als})
            ndcg = score("ALS", blend(found, None, K_LONG), train, valid, catalogue).ndcg
            tried.append(({"als": als}, ndcg))
            say(f"  validation, ALS {als}: NDCG@10 {ndcg:.4f}")
            if ndcg > best:
                best_als, best = als, ndcg
        settings = {**settings, "als": best_als}
        found = candidates(train, K_LONG, **settings)
        best_weights, best = weights, -1.0
        for values in itertools.product(*WEIGHT_GRID.values()):
            w = {**weights, **dict(zip(WEIGHT_GRID, values, strict=True))}
            ndcg = score("blend", blend(found, w, K_LONG), train, valid, catalogue).ndcg
            tried.append(({"weights": w}, ndcg))
            say(f"  validation, weights {w}: NDCG@10 {ndcg:.4f}")
            if ndcg > best:
                best_weights, best = w, ndcg
        return {**params, "als": best_als, "weights": best_weights}, tried
    finally:
        train.unpersist()
        valid.unpersist()


def evaluate(
    lines: DataFrame,
    params: dict[str, Any],
    days: int = 7,
    tuned: bool = True,
    say: Callable[[str], None] = lambda _: None,
) -> Evaluation:
    """Scores of popularity, rules, ALS and the blend on the last ``days`` of ``lines``,
    trained on the days before; with ``tuned``, the blend's parameters are first chosen on
    the validation week before it (otherwise ``params`` as they are)."""
    train, held_out = split_last_week(lines, days)
    chosen, tried = tune(train, params, days, say) if tuned else (dict(params), [])
    train, held_out = train.persist(), held_out.persist()
    try:
        catalogue = train.select("product_id").distinct().count()
        settings, weights = _split_params(chosen)
        found = candidates(train, K_LONG, **settings)

        def only(reason: str) -> DataFrame:
            return blend(found.where(F.col("reason") == reason), None, K_LONG)

        methods: dict[str, Callable[[], DataFrame]] = {
            "most popular (baseline)": lambda: popular_baseline(train, K_LONG),
            "association rules": lambda: only("bought_with"),
            "ALS": lambda: only("customers_like_you"),
            "blend (the mart)": lambda: blend(found, weights, K_LONG),
        }
        scores = []
        for name, make in methods.items():
            say(f"  test week: {name}")
            scores.append(score(name, make(), train, held_out, catalogue))
        baskets = train.select("order_id").distinct().count()
        as_of = train.agg(F.max("order_date")).first()[0]
        return Evaluation(scores, baskets, as_of, chosen, tried)
    finally:
        train.unpersist()
        held_out.unpersist()


def format_scores(scores: list[Score]) -> str:
    """A Markdown table of the scores, with each method's gain over the first (the baseline)."""
    base = scores[0] if scores else None

    def gain(value: float, reference: float) -> str:
        return f"{value / reference - 1:+.0%}" if reference else "n/a"

    rows = [
        "| method | customers | hit rate@5 | precision@5 | recall@10 | NDCG@10 | coverage@10 |"
        " hit rate@5 vs baseline | NDCG@10 vs baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        rows.append(
            f"| {s.method} | {s.customers} | {s.hit_rate:.4f} | {s.precision:.4f} |"
            f" {s.recall:.4f} | {s.ndcg:.4f} | {s.coverage:.3f} |"
            f" {gain(s.hit_rate, base.hit_rate)} | {gain(s.ndcg, base.ndcg)} |"
        )
    return "\n".join(rows)


def ideal_dcg(bought: int, k: int = K_LONG) -> float:
    """The best DCG@k a customer who bought ``bought`` products can get (for checks)."""
    return sum(1 / math.log2(i + 1) for i in range(1, min(bought, k) + 1))
