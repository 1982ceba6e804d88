"""Product recommendations from what customers bought together (Spark ML FPGrowth), topped up
with the most popular products a customer has not bought yet."""

from __future__ import annotations

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SCHEMA = "customer_id string, rank int, product_id string, score double, lift double"


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
    """product_id, baskets (how many orders hold it), share (of all orders), best first."""
    baskets = sold.select("order_id").distinct().count()
    return (
        sold.groupBy("product_id")
        .agg(F.countDistinct("order_id").alias("baskets"))
        .withColumn("share", F.col("baskets") / F.lit(max(baskets, 1)))
    )


def most_popular_unowned(sold: DataFrame, owned: DataFrame, top_n: int) -> DataFrame:
    """The baseline: per customer, the ``top_n`` most bought products they do not own yet.

    customer_id, product_id, score (the product's share of baskets), lift (null), prio.
    Only as many candidates as a customer could own plus ``top_n`` are considered, so the
    cross join stays customers x a few dozen.
    """
    popular = popularity(sold)
    most_owned = owned.select(F.max(F.size("owned"))).first()[0] or 0
    candidates = popular.orderBy(F.desc("baskets"), "product_id").limit(min(most_owned, 50) + top_n)
    ranked = Window.partitionBy("customer_id").orderBy(F.desc("baskets"), "product_id")
    return (
        owned.crossJoin(F.broadcast(candidates))
        .where(~F.array_contains("owned", F.col("product_id")))
        .withColumn("prio", F.row_number().over(ranked))
        .where(F.col("prio") <= top_n)
        .select(
            "customer_id",
            "product_id",
            F.col("share").alias("score"),
            F.lit(None).cast("double").alias("lift"),
            "prio",
        )
    )


def rule_recommendations(
    sold: DataFrame, owned: DataFrame, min_support: float, min_confidence: float
) -> DataFrame:
    """customer_id, product_id, score (best confidence), lift: rules met by what they own."""
    baskets = sold.groupBy("order_id").agg(F.collect_set("product_id").alias("items"))
    model = FPGrowth(itemsCol="items", minSupport=min_support, minConfidence=min_confidence).fit(
        baskets
    )
    rules = model.associationRules.select(
        "antecedent",
        F.col("consequent")[0].alias("product_id"),
        "confidence",
        "lift",
    )
    # Each rule is met through one of its items (the first), then checked whole.
    applicable = (
        owned.select("customer_id", "owned", F.explode("owned").alias("_item"))
        .join(rules, F.col("_item") == F.col("antecedent")[0])
        .where(F.size(F.array_except("antecedent", "owned")) == 0)
        .where(~F.array_contains("owned", F.col("product_id")))
    )
    best = applicable.groupBy("customer_id", "product_id").agg(
        F.max(F.struct("confidence", "lift")).alias("best")
    )
    return best.select(
        "customer_id",
        "product_id",
        F.col("best.confidence").alias("score"),
        F.col("best.lift").alias("lift"),
    )


def recommend(
    lines: DataFrame,
    top_n: int = 5,
    min_support: float = 0.0,
    min_baskets: int = 1,
    min_confidence: float = 0.05,
    min_lift: float = 0.0,
    fill_popular: bool = False,
) -> DataFrame:
    """Top ``top_n`` products per customer that the customer has not bought yet.

    ``lines`` has one row per sold line (order_id, customer_id, product_id, status). Baskets
    are orders; FPGrowth mines the rules "who buys A (and B) also buys C" whose itemsets are
    in at least ``min_baskets`` baskets and a ``min_support`` share of them (a share alone
    finds nothing in a young shop with a wide catalogue, where no pair reaches 1 %). A rule
    counts for a customer once they have bought its whole antecedent, if its lift reaches
    ``min_lift``; a product's score is the best confidence among those rules, ties broken by
    lift, then product id, so the ranking is stable from run to run. With ``fill_popular``,
    places the rules leave empty go to the most popular products the customer has not bought
    (score = the product's share of baskets, lift null), ranked after every rule.
    """
    sold = sold_lines(lines)
    baskets = sold.select("order_id").distinct().count()
    if baskets == 0:
        return lines.sparkSession.createDataFrame([], SCHEMA)
    support = max(min_support, min_baskets / baskets)
    owned = owned_products(sold)
    by_rules = rule_recommendations(sold, owned, min(support, 1.0), min_confidence).where(
        F.col("lift") >= min_lift
    )
    if support > 1.0:  # fewer baskets than a rule must appear in: no rule holds yet
        by_rules = by_rules.limit(0)
    # prio orders the candidates of a customer: rules first (best confidence, then lift),
    # then the popular top-up.
    rules_ranked = by_rules.withColumn("prio", F.lit(0))
    candidates = rules_ranked
    if fill_popular:
        candidates = rules_ranked.unionByName(
            most_popular_unowned(sold, owned, top_n).join(
                by_rules.select("customer_id", "product_id"),
                ["customer_id", "product_id"],
                "left_anti",
            )
        )
    ranking = Window.partitionBy("customer_id").orderBy(
        "prio", F.desc("score"), F.desc_nulls_last("lift"), "product_id"
    )
    return (
        candidates.withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= top_n)
        .select("customer_id", "rank", "product_id", "score", "lift")
    )
