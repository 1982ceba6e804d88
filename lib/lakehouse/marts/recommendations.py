"""Product recommendations per customer, blended from four sources, each with its reason:

- ``buy_again``: a product the customer buys regularly, when its next purchase is due;
- ``bought_with``: association rules from what the customer bought (``because`` names it);
- ``customers_like_you``: ALS on implicit feedback;
- ``popular``: the products most bought lately, for customers with little history.

Every source scores its candidates between 0 and 1; a product's blended score is the sum of
its sources' scores times their weights, and its reason is the source that gave the most. ALS
weighs in by how much a customer has bought (``als_confidence_at`` products make it half
sure), so a new customer gets mostly rules and popular products.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.marts.basket_rules import mine_rules, rule_candidates
from lakehouse.marts.collaborative import AlsParams, als_candidates

SCHEMA = (
    "customer_id string, rank int, product_id string, score double, reason string,"
    " because string, lift double"
)
CANDIDATES = (
    "customer_id string, product_id string, reason string, score double, because string,"
    " lift double"
)
REASONS = ("buy_again", "bought_with", "customers_like_you", "popular")


def sold_lines(lines: DataFrame) -> DataFrame:
    """The lines that count as bought: not cancelled, with a product."""
    return lines.where("status <> 'cancelled' AND product_id IS NOT NULL")


def owned_products(sold: DataFrame) -> DataFrame:
    """customer_id, owned (array of the products each known customer has bought)."""
    return (
        sold.where("customer_id IS NOT NULL")
        .groupBy("customer_id")
        .agg(F.collect_set("product_id").alias("owned"))
    )


def popularity(sold: DataFrame) -> DataFrame:
    """product_id, baskets (how many orders hold it), share (of all orders)."""
    baskets = sold.select("order_id").distinct().count()
    return (
        sold.groupBy("product_id")
        .agg(F.countDistinct("order_id").alias("baskets"))
        .withColumn("share", F.col("baskets") / F.lit(max(baskets, 1)))
    )


def most_popular_unowned(sold: DataFrame, owned: DataFrame, top_n: int) -> DataFrame:
    """Per customer, the ``top_n`` most bought products they do not own yet.

    customer_id, product_id, score (the product's share of baskets over the best's), prio.
    Only as many candidates as a customer could own plus ``top_n`` are considered, so the
    cross join stays customers x a few dozen.
    """
    popular = popularity(sold)
    most_owned = owned.select(F.max(F.size("owned"))).first()[0] or 0
    candidates = popular.orderBy(F.desc("baskets"), "product_id").limit(min(most_owned, 50) + top_n)
    best = candidates.agg(F.max("share")).first()[0] or 1.0
    ranked = Window.partitionBy("customer_id").orderBy(F.desc("baskets"), "product_id")
    return (
        owned.crossJoin(F.broadcast(candidates))
        .where(~F.array_contains("owned", F.col("product_id")))
        .withColumn("prio", F.row_number().over(ranked))
        .where(F.col("prio") <= top_n)
        .select("customer_id", "product_id", (F.col("share") / best).alias("score"), "prio")
    )


def buy_again(sold: DataFrame, as_of, horizon_days: int, per_customer: int) -> DataFrame:
    """customer_id, product_id, score: products a customer bought on at least two days, scored
    by how well their usual interval says the next purchase falls within ``horizon_days``
    after ``as_of`` (1 when due mid-horizon), times the regularity seen so far (n/(n+1))."""
    days = (
        sold.where("customer_id IS NOT NULL")
        .groupBy("customer_id", "product_id")
        .agg(
            F.countDistinct("order_date").alias("n"),
            F.min("order_date").alias("_first"),
            F.max("order_date").alias("_last"),
        )
        .where("n >= 2")
    )
    gap = F.datediff("_last", "_first") / (F.col("n") - 1)
    due_in = gap - F.datediff(F.lit(as_of), "_last")  # days from as_of to the next purchase
    slack = F.greatest(gap / 4, F.lit(horizon_days / 2))
    miss = (due_in - F.lit(horizon_days / 2)) / slack
    score = F.exp(-miss * miss) * F.col("n") / (F.col("n") + 1)
    ranked = Window.partitionBy("customer_id").orderBy(F.desc("score"), "product_id")
    return (
        days.withColumn("score", score)
        .withColumn("_r", F.row_number().over(ranked))
        .where(F.col("_r") <= per_customer)
        .select("customer_id", "product_id", "score")
    )


def recent(sold: DataFrame, days: int, as_of) -> DataFrame:
    return sold.where(F.col("order_date") > F.date_sub(F.lit(as_of), days)) if days > 0 else sold


def recommend(
    lines: DataFrame,
    top_n: int = 5,
    sources: tuple[str, ...] | list[str] = REASONS,
    weights: dict[str, float] | None = None,
    **settings,
) -> DataFrame:
    """The top ``top_n`` products per known customer, with ``reason`` (one of REASONS) and,
    for ``bought_with``, ``because`` (the product bought) and the rule's ``lift``.

    ``lines`` has one row per sold line (order_id, customer_id, product_id, status,
    order_date). ``sources`` picks the sources (the evaluation scores each alone); a product
    the customer owns is offered only by ``buy_again``. Ties go to the product id, so the
    ranking is stable from run to run. ``settings``: see ``candidates``.
    """
    found = candidates(lines, top_n, sources, **settings)
    return blend(found, weights, top_n)


def candidates(
    lines: DataFrame,
    top_n: int = 5,
    sources: tuple[str, ...] | list[str] = REASONS,
    min_support: float = 0.0,
    min_baskets: int = 1,
    min_confidence: float = 0.05,
    window_days: int = 14,
    recency_days: float = 60.0,
    als: dict | None = None,
    als_confidence_at: float = 5.0,
    popular_days: int = 28,
    again_horizon_days: int = 7,
) -> DataFrame:
    """customer_id, product_id, reason, score (0..1), because, lift: up to 2 x ``top_n``
    candidates per customer from each source, computed once (a blend of other weights
    reuses them).

    Rules (``min_*``, ``window_days``: see ``basket_rules``) fade with ``recency_days``
    since the antecedent was bought; ALS's own settings are ``als`` (``AlsParams``);
    popularity counts the last ``popular_days``; buy-again looks ``again_horizon_days`` ahead.
    """
    unknown = set(sources) - set(REASONS)
    if unknown:
        raise ValueError(f"unknown recommendation sources {sorted(unknown)} (known: {REASONS})")
    spark = lines.sparkSession
    empty = spark.createDataFrame([], CANDIDATES)
    sold = sold_lines(lines).persist()
    owned = owned_products(sold).persist()
    try:
        as_of = sold.agg(F.max("order_date")).first()[0]
        if as_of is None:
            return empty
        per = 2 * top_n  # candidates per source: enough for a source to fill a list alone
        parts = []
        if "buy_again" in sources:
            parts.append(("buy_again", buy_again(sold, as_of, again_horizon_days, per)))
        if "bought_with" in sources:
            rules = mine_rules(sold, min_support, min_baskets, min_confidence, window_days)
            parts.append(("bought_with", rule_candidates(sold, rules, as_of, recency_days, per)))
        if "customers_like_you" in sources:
            history = owned.select("customer_id", F.size("owned").alias("_n"))
            sure = F.col("_n") / (F.col("_n") + F.lit(float(als_confidence_at)))
            found = als_candidates(sold, AlsParams(**(als or {})), per).join(history, "customer_id")
            parts.append(("customers_like_you", found.withColumn("score", F.col("score") * sure)))
        if "popular" in sources:
            popular = most_popular_unowned(recent(sold, popular_days, as_of), owned, per)
            parts.append(("popular", popular))
        out = empty
        for reason, part in parts:
            for column, kind in (("because", "string"), ("lift", "double")):
                if column not in part.columns:
                    part = part.withColumn(column, F.lit(None).cast(kind))
            out = out.unionByName(
                part.select(
                    "customer_id",
                    "product_id",
                    F.lit(reason).alias("reason"),
                    F.col("score").cast("double").alias("score"),
                    "because",
                    "lift",
                )
            )
        return out.localCheckpoint()  # computed once, before its inputs' caches are dropped
    finally:
        owned.unpersist()
        sold.unpersist()


def blend(found: DataFrame, weights: dict[str, float] | None, top_n: int) -> DataFrame:
    """The top ``top_n`` of ``candidates`` per customer: a product's score is the sum of its
    sources' scores times their ``weights`` (1 when not given); the reason is the source
    that gave the most."""
    w = {**dict.fromkeys(REASONS, 1.0), **(weights or {})}
    weight = F.element_at(
        F.create_map(*[x for r in REASONS for x in (F.lit(r), F.lit(float(w[r])))]), F.col("reason")
    )
    weighted = found.withColumn("score", F.col("score") * weight)
    # Rounded, and ties broken by name: the same candidates always give the same list.
    by_product = weighted.groupBy("customer_id", "product_id").agg(
        F.round(F.sum("score"), 6).alias("score"),
        F.max_by(F.struct("reason", "because", "lift"), F.struct("score", "reason")).alias("_top"),
    )
    ranking = Window.partitionBy("customer_id").orderBy(F.desc("score"), "product_id")
    return (
        by_product.withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= top_n)
        .select(
            "customer_id",
            F.col("rank").cast("int").alias("rank"),
            "product_id",
            "score",
            "_top.reason",
            "_top.because",
            "_top.lift",
        )
    )
