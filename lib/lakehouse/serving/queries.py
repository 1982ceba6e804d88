"""The API's questions as DuckDB SQL over the gold tables. Every value a client sends is a
named parameter ($name); choices such as the period or the grouping are picked by CASE inside
the SQL, so no text of a request ever becomes SQL. Each query names the tables it reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    """SQL over the named tables. A paged query's SQL ends with its ORDER BY: the snapshot
    counts all its rows and appends LIMIT and OFFSET (``Snapshot.page``)."""

    sql: str
    tables: list[str]


# A day filter: $date_from / $date_to may be NULL (open).
_DAYS = "($date_from IS NULL OR {col} >= $date_from) AND ($date_to IS NULL OR {col} <= $date_to)"
_SHOP = "($shop IS NULL OR shop_id = $shop)"

PROFILE = Query(
    """
    SELECT p.customer_id, p.city, p.country, p.first_order_date, p.last_order_date,
           p.orders, p.revenue, p.spend_by_department,
           r.recency_days, r.frequency, r.monetary, r.r_score, r.f_score, r.m_score
    FROM mart_customer_profile p LEFT JOIN mart_customer_rfm r USING (customer_id)
    WHERE p.customer_id = $customer_id
    """,
    ["mart_customer_profile", "mart_customer_rfm"],
)

# reason: buy_again, bought_with (because: the product bought), customers_like_you, popular
RECOMMENDATIONS = Query(
    """
    SELECT r.rank, r.product_id, d.product_name, d.brand, d.category, r.score, r.reason,
           r.because, b.product_name AS because_name, r.lift
    FROM mart_recommendations r
    LEFT JOIN dim_product d ON d.product_id = r.product_id AND d.is_current
    LEFT JOIN dim_product b ON b.product_id = r.because AND b.is_current
    WHERE r.customer_id = $customer_id
    ORDER BY r.rank
    """,
    ["mart_recommendations", "dim_product"],
)

_SERIES = """product_id = $product_id AND ($shop IS NULL OR shop_id = $shop)
      AND ($channel IS NULL OR channel = $channel)"""

# A product's forecast per shop and channel, and the units it sold on the days up to the
# forecast's origin (the mart holds sold days only: the API adds the days without a sale).
FORECAST = Query(
    f"""
    SELECT shop_id, channel, origin, forecast_date, horizon, units, units_low, units_high, model
    FROM mart_demand_forecast WHERE {_SERIES}
    ORDER BY shop_id, channel, forecast_date
    """,
    ["mart_demand_forecast"],
)

FORECAST_ACTUALS = Query(
    f"""
    SELECT shop_id, channel, order_date, units FROM mart_item_sales_daily
    WHERE {_SERIES} AND order_date >= $first_day AND order_date <= $origin
    """,
    ["mart_item_sales_daily"],
)

# Why a known customer has no recommendations: none of their purchases was kept, or they came
# after the weekly model was computed.
KEPT_PURCHASES = Query(
    """
    SELECT count(*) AS lines FROM fct_order_positions
    WHERE customer_id = $customer_id AND status <> 'cancelled' AND product_id IS NOT NULL
    """,
    ["fct_order_positions"],
)

PRODUCT = Query(
    "SELECT product_id, product_name, brand, category, department FROM dim_product"
    " WHERE product_id = $product_id AND is_current",
    ["dim_product"],
)


@dataclass(frozen=True)
class Derived:
    """A table the server computes from one version of a gold table, once per version, for
    answers that would otherwise scan the whole table on every request. ``sql`` reads the
    version as ``{base}``."""

    base: str
    sql: str


DERIVED = {
    # Pairs of products bought in the same basket, with each product's basket count: a year's
    # lines at 1M positions took 91 ms per bought-with request to scan; the pairs are a lookup.
    "basket_pairs": Derived(
        "fct_order_positions",
        """
        WITH sold AS (
          SELECT DISTINCT order_id, product_id FROM {base}
          WHERE status <> 'cancelled' AND product_id IS NOT NULL
        ),
        per_product AS (SELECT product_id, count(*) AS product_baskets FROM sold GROUP BY ALL)
        SELECT pairs.*, per_product.product_baskets FROM (
          SELECT a.product_id, b.product_id AS other_product_id, count(*) AS baskets
          FROM sold a JOIN sold b ON a.order_id = b.order_id AND a.product_id <> b.product_id
          GROUP BY ALL
        ) pairs JOIN per_product USING (product_id)
        ORDER BY product_id
        """,
    )
}

BOUGHT_WITH = Query(
    """
    SELECT p.other_product_id AS product_id, d.product_name, d.brand, p.baskets,
           p.baskets / p.product_baskets AS share_of_baskets
    FROM basket_pairs p
    LEFT JOIN dim_product d ON d.product_id = p.other_product_id AND d.is_current
    WHERE p.product_id = $product_id
    ORDER BY p.baskets DESC, p.other_product_id
    """,
    ["basket_pairs", "dim_product"],
)

TREND = Query(
    f"""
    SELECT CASE WHEN $grain = 'month' THEN date_trunc('month', order_date)::DATE
                ELSE order_date END AS period_start,
           sum(orders) AS orders, sum(order_intake) AS order_intake, sum(revenue) AS revenue,
           sum(order_intake) / sum(orders) AS average_order_value
    FROM mart_sales_by_shop
    WHERE {_DAYS.format(col="order_date")} AND {_SHOP}
    GROUP BY 1 ORDER BY 1
    """,
    ["mart_sales_by_shop"],
)

# Every hour of the day, with zeros where nothing was sold (an hour the data has outside
# 0-23, such as -1 for an order without a time, is kept too).
_ALL_HOURS = """
    SELECT hour, coalesce(orders, 0) AS orders, coalesce(order_intake, 0) AS order_intake,
           coalesce(revenue, 0) AS revenue
    FROM range(24) AS day(hour) FULL JOIN ({sold}) sold USING (hour)
    ORDER BY hour
"""

PEAK_HOURS = Query(
    _ALL_HOURS.format(
        sold=f"""SELECT hour, sum(orders) AS orders, sum(order_intake) AS order_intake,
                   sum(revenue) AS revenue
            FROM mart_sales_trend WHERE {_DAYS.format(col="order_date")} GROUP BY hour"""
    ),
    ["mart_sales_trend"],
)

# mart_sales_trend has no shop: for one shop the hours come from the orders themselves.
PEAK_HOURS_OF_SHOP = Query(
    _ALL_HOURS.format(
        sold=f"""SELECT hour, count(*) AS orders, sum(order_intake) AS order_intake,
                   sum(revenue) AS revenue
            FROM fct_orders WHERE {_DAYS.format(col="order_date")} AND shop_id = $shop
            GROUP BY hour"""
    ),
    ["fct_orders"],
)

YEAR_TO_DATE = Query(
    """
    WITH a AS (
      SELECT coalesce($as_of, (SELECT max(order_date) FROM mart_sales_by_shop)) AS as_of
    )
    SELECT a.as_of, date_trunc('year', a.as_of)::DATE AS year_start,
           coalesce(sum(s.orders), 0) AS orders,
           coalesce(sum(s.delivered_orders), 0) AS delivered_orders,
           coalesce(sum(s.order_intake), 0) AS order_intake,
           coalesce(sum(s.revenue), 0) AS revenue,
           sum(s.order_intake) / sum(s.orders) AS average_order_value
    FROM a LEFT JOIN mart_sales_by_shop s
      ON s.order_date BETWEEN date_trunc('year', a.as_of) AND a.as_of
     AND ($shop IS NULL OR s.shop_id = $shop)
    GROUP BY a.as_of
    """,
    ["mart_sales_by_shop"],
)

# The window of a ranking: the mart's (the last $weeks weeks to the latest sale, when no day
# is given), or the days given (an open end is open).
_WINDOW = """
    SELECT coalesce($date_from, CASE WHEN $date_to IS NULL THEN as_of - 7 * $weeks + 1 END)
             AS date_from,
           coalesce($date_to, CASE WHEN $date_from IS NULL THEN as_of END) AS date_to
    FROM (SELECT max(order_date) AS as_of FROM fct_order_positions)
"""
BRAND_WINDOW = Query(_WINDOW, ["fct_order_positions"])

BRAND_RANKING = Query(
    """
    SELECT brand, brand_rank, sales, units FROM mart_brand_ranking WHERE weeks = $weeks
    ORDER BY brand_rank, brand
    """,
    ["mart_brand_ranking"],
)

# The mart's ranking for one shop or any days, from the lines by the mart's rule (cancelled
# lines out, the brand of the product's version at the time of sale): with the mart's window
# and no shop, both give the same answer.
BRAND_RANKING_OF = Query(
    f"""
    WITH w AS ({_WINDOW}),
    sales AS (
      SELECT coalesce(p.brand, 'unknown') AS brand, sum(l.amount) AS sales,
             sum(l.quantity) AS units
      FROM fct_order_positions l CROSS JOIN w
      LEFT JOIN dim_product p ON p.product_sk = l.product_sk
      WHERE l.status <> 'cancelled'
        AND (w.date_from IS NULL OR l.order_date >= w.date_from)
        AND (w.date_to IS NULL OR l.order_date <= w.date_to)
        AND ($shop IS NULL OR l.shop_id = $shop)
      GROUP BY ALL
    )
    SELECT brand, rank() OVER (ORDER BY sales DESC) AS brand_rank, sales, units FROM sales
    ORDER BY brand_rank, brand
    """,
    ["fct_order_positions", "dim_product"],
)

# A period of "all" matches no WHEN: NULL, one row for the whole range.
_PERIOD = """CASE $period WHEN 'day' THEN order_date
                          WHEN 'week' THEN date_trunc('week', order_date)::DATE
                          WHEN 'month' THEN date_trunc('month', order_date)::DATE END"""

INTAKE_VS_REVENUE = Query(
    f"""
    SELECT {_PERIOD} AS period_start,
           CASE $group WHEN 'shop' THEN shop_id WHEN 'city' THEN city
                       WHEN 'region' THEN region WHEN 'country' THEN country END AS "group",
           sum(orders) AS orders, sum(delivered_orders) AS delivered_orders,
           sum(order_intake) AS order_intake, sum(revenue) AS revenue,
           sum(dropped) AS dropped,
           1 - sum(revenue) / nullif(sum(order_intake), 0) AS drop_off_rate
    FROM mart_sales_by_shop
    WHERE {_DAYS.format(col="order_date")} AND {_SHOP}
    GROUP BY 1, 2 ORDER BY 1, 2
    """,
    ["mart_sales_by_shop"],
)

DROP_OFF = Query(
    f"""
    SELECT {_PERIOD} AS period_start,
           sum(order_intake) AS order_intake, sum(revenue) AS revenue,
           sum(dropped) AS dropped,
           1 - sum(revenue) / nullif(sum(order_intake), 0) AS drop_off_rate
    FROM mart_sales_by_shop
    WHERE {_DAYS.format(col="order_date")} AND {_SHOP}
    GROUP BY 1 ORDER BY 1
    """,
    ["mart_sales_by_shop"],
)

# Averages over several shops are weighted by their orders; a median or percentile cannot be
# combined, so they are given for one shop only.
SHIPPING_LAG = Query(
    """
    SELECT order_month,
           sum(orders_shipped) AS orders_shipped,
           sum(avg_days_to_ship * orders_shipped) / nullif(sum(orders_shipped), 0)
             AS avg_days_to_ship,
           sum(orders_delivered) AS orders_delivered,
           sum(avg_days_to_deliver * orders_delivered) / nullif(sum(orders_delivered), 0)
             AS avg_days_to_deliver,
           CASE WHEN $shop IS NOT NULL THEN max(median_days_to_ship) END AS median_days_to_ship,
           CASE WHEN $shop IS NOT NULL THEN max(p90_days_to_ship) END AS p90_days_to_ship,
           CASE WHEN $shop IS NOT NULL THEN max(median_days_to_deliver) END
             AS median_days_to_deliver,
           CASE WHEN $shop IS NOT NULL THEN max(p90_days_to_deliver) END AS p90_days_to_deliver
    FROM mart_shipping_lag
    WHERE ($date_from IS NULL OR order_month >= date_trunc('month', $date_from::DATE))
      AND ($date_to IS NULL OR order_month <= $date_to)
      AND ($shop IS NULL OR shop_id = $shop)
    GROUP BY order_month ORDER BY order_month
    """,
    ["mart_shipping_lag"],
)

NEW_VS_RETURNING = Query(
    f"""
    SELECT period_start, customers, new_customers, returning_customers, new_share,
           returning_share
    FROM mart_customers_by_period
    WHERE period = $period AND {_DAYS.format(col="period_start")}
    ORDER BY period_start
    """,
    ["mart_customers_by_period"],
)

# The mart has no shop: for one shop, the same counts from the shop's orders. A customer is
# new in a period when their first order anywhere (mart_customer_profile) falls in it, as
# in the mart; only customers who ordered at the shop in the period are counted.
NEW_VS_RETURNING_OF_SHOP = Query(
    """
    WITH active AS (
      SELECT DISTINCT customer_id, order_date FROM fct_orders
      WHERE customer_id IS NOT NULL AND shop_id = $shop
    ),
    periods AS (
      SELECT CASE WHEN $period = 'month' THEN date_trunc('month', order_date)::DATE
                  ELSE order_date END AS period_start,
             CASE WHEN $period = 'month' THEN last_day(order_date) ELSE order_date END
               AS period_end,
             customer_id
      FROM active
    ),
    counted AS (
      SELECT p.period_start, count(DISTINCT p.customer_id) AS customers,
             count(DISTINCT CASE WHEN f.first_order_date BETWEEN p.period_start AND p.period_end
                                 THEN p.customer_id END) AS new_customers
      FROM periods p LEFT JOIN mart_customer_profile f USING (customer_id)
      GROUP BY p.period_start
    )
    SELECT period_start, customers, new_customers,
           customers - new_customers AS returning_customers,
           round(new_customers / customers, 4) AS new_share,
           round((customers - new_customers) / customers, 4) AS returning_share
    FROM counted
    WHERE ($date_from IS NULL OR period_start >= $date_from)
      AND ($date_to IS NULL OR period_start <= $date_to)
    ORDER BY period_start
    """,
    ["fct_orders", "mart_customer_profile"],
)

SHOPS = Query(
    """
    SELECT shop_id, shop_name, shop_type, city, region, country FROM dim_shop
    WHERE shop_sk <> -1 ORDER BY shop_id
    """,
    ["dim_shop"],
)

SHOP_EXISTS = Query(
    "SELECT shop_id FROM dim_shop WHERE shop_id = $shop AND shop_sk <> -1", ["dim_shop"]
)

SERVED_TABLES = sorted(
    {
        name
        for query in (
            PROFILE,
            RECOMMENDATIONS,
            BOUGHT_WITH,
            TREND,
            PEAK_HOURS,
            PEAK_HOURS_OF_SHOP,
            YEAR_TO_DATE,
            BRAND_RANKING,
            BRAND_RANKING_OF,
            INTAKE_VS_REVENUE,
            SHIPPING_LAG,
            NEW_VS_RETURNING,
            NEW_VS_RETURNING_OF_SHOP,
            SHOPS,
            FORECAST,
            FORECAST_ACTUALS,
        )
        for name in query.tables
    }
    - DERIVED.keys()
    | {derived.base for derived in DERIVED.values()}
)
