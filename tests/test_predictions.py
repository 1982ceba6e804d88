"""The recommender and the demand forecaster on planted structure, and their evaluations'
arithmetic. Only what the planted structure guarantees is asserted: no figure a seed could flip.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from pyspark.ml.fpm import FPGrowth

from lakehouse.marts.basket_rules import baskets, mine_rules
from lakehouse.marts.demand_forecast import forecast
from lakehouse.marts.forecast_eval import backtest
from lakehouse.marts.recommendations import REASONS, recommend

LINES = "order_id string, customer_id string, product_id string, status string, order_date date"
START = date(2026, 1, 5)  # a Monday
SALES = (
    "order_date date, product_id string, shop_id string, channel string, units long, sales double"
)


def _lines(spark, rows):
    return spark.createDataFrame(
        [(o, c, p, "delivered", START + timedelta(days=d)) for o, c, p, d in rows], LINES
    )


@pytest.fixture(scope="module")
def planted(spark):
    """40 customers who bought the phone, then its case 2 days later in another order, and
    a little of everything else; a customer who bought coffee every 7 days; a newcomer who
    bought the phone yesterday."""
    rows = []
    others = [f"X{i}" for i in range(8)]
    for c in range(40):
        day = c % 20
        rows.append((f"A{c}", f"C{c}", "PHONE", day))
        rows.append((f"B{c}", f"C{c}", "CASE", day + 2))
        rows.append((f"D{c}", f"C{c}", others[c % 8], day + 5))
        rows.append((f"E{c}", f"C{c}", others[(c * 3) % 8], day + 9))
    for week in range(8):
        rows.append((f"K{week}", "REGULAR", "COFFEE", 7 * week + 1))
    rows.append(("N1", "NEWCOMER", "PHONE", 55))
    return _lines(spark, rows)


def test_a_customer_who_bought_the_phone_is_offered_its_case_because_of_it(planted):
    recs = recommend(
        planted, top_n=5, min_baskets=2, window_days=7, als={"rank": 4}, weights={"popular": 0.3}
    )
    newcomer = recs.where("customer_id = 'NEWCOMER'").orderBy("rank").collect()
    case = [r for r in newcomer if r.product_id == "CASE"]
    # 40 of the 41 baskets with the phone hold the case (the newcomer's alone does not), the
    # phone was bought on the last day: 0.98; the other sources cannot reach that for a
    # customer with one product (popular <= 0.3, ALS <= 1/6, other rules <= 5/41)
    assert case and case[0].rank == 1
    assert (case[0].reason, case[0].because) == ("bought_with", "PHONE")
    assert all(r.product_id != "PHONE" for r in newcomer)  # owned, not offered again
    assert {r.reason for r in recs.collect()} <= set(REASONS)


def test_rules_are_fpgrowths_with_one_product_on_each_side(spark):
    """The direct pair count gives FPGrowth's rules A -> C, with the same confidence and lift,
    on baskets widened over days and at both a count and a share of support."""
    rng = random.Random(3)
    rows = [
        (f"O{o}", f"C{o % 25}" if o % 7 else None, f"P{int(rng.paretovariate(1.2)) % 12}", o % 30)
        for o in range(300)
        for _ in range(rng.randint(1, 4))
    ]
    sold = _lines(spark, rows)
    for min_support, min_baskets in ((0.0, 3), (0.05, 1)):
        got = mine_rules(sold, min_support, min_baskets, min_confidence=0.1, window_days=5)
        found = baskets(sold, 5)
        total = found.count()
        support = max(min_support, min_baskets / total)
        model = FPGrowth(itemsCol="items", minSupport=support, minConfidence=0.1).fit(found)
        want = {
            (r.antecedent[0], r.consequent[0]): (r.confidence, r.lift)
            for r in model.associationRules.collect()
            if len(r.antecedent) == 1
        }
        have = {(r.antecedent, r.product_id): (r.confidence, r.lift) for r in got.collect()}
        assert want and have.keys() == want.keys()
        for key, (confidence, lift) in want.items():
            assert have[key] == pytest.approx((confidence, lift))


def test_a_regular_purchase_is_offered_again_when_due(planted):
    # The coffee came on days 1, 8, ..., 50; the data ends on day 55 (the newcomer's phone),
    # so the next is due on day 57, within the week ahead.
    recs = recommend(planted, top_n=5, min_baskets=2, als={"rank": 4})
    regular = recs.where("customer_id = 'REGULAR'").orderBy("rank").collect()
    assert (regular[0].product_id, regular[0].reason) == ("COFFEE", "buy_again")
    # the others fill the list: five products, each once
    assert len(regular) == 5 and len({r.product_id for r in regular}) == 5


def test_each_source_alone_and_a_list_filled_to_top_n(planted):
    alone = recommend(planted, top_n=3, sources=["popular"], popular_days=0)
    assert {r.reason for r in alone.collect()} == {"popular"}
    assert alone.groupBy("customer_id").count().where("count <> 3").count() == 0
    with pytest.raises(ValueError, match="unknown recommendation sources"):
        recommend(planted, sources=["magic"])


def _weekly_sales(spark, weeks: int = 12, series: int = 6):
    """Planted weekly pattern: 10 units on Saturdays, 2 on the other days, for every series."""
    rows = []
    for s in range(series):
        for d in range(7 * weeks):
            day = START + timedelta(days=d)
            units = 10 if day.weekday() == 5 else 2
            rows.append((day, f"P{s}", "S1", "web", units, units * 9.99))
    return spark.createDataFrame(rows, SALES)


def test_the_forecaster_follows_a_planted_weekly_pattern_better_than_a_flat_line(spark):
    sales = _weekly_sales(spark)
    out = forecast(sales, horizon_days=14, train_origins=6, trees=20, depth=4).collect()
    assert {r.model for r in out} == {"gbt"}
    assert len(out) == 6 * 14
    assert {r.horizon for r in out} == set(range(1, 15))
    assert all(r.units_low <= r.units <= r.units_high for r in out)

    def truth(r):
        return 10 if r.forecast_date.weekday() == 5 else 2

    flat = 22 / 7  # the mean of every 28 days
    model_error = sum(abs(r.units - truth(r)) for r in out)
    flat_error = sum(abs(flat - truth(r)) for r in out)
    assert model_error < flat_error


def test_backtest_figures_add_up(spark):
    sales = _weekly_sales(spark, weeks=10, series=3)
    params = {"horizon_days": 7, "train_origins": 4, "trees": 10, "depth": 3}
    results, origins = backtest(sales, params, weeks=2)
    assert len(origins) == 2 and origins[1] - origins[0] == timedelta(days=7)
    model, naive, flat = results
    # two origins x 3 series x 7 days, each day's units known by construction
    assert {r.points for r in results} == {2 * 3 * 7}
    assert {r.actual for r in results} == {2 * 3 * (10 + 6 * 2)}
    # the same weekday of last week is exact on a pure weekly pattern; the flat line is not
    assert naive.wape == 0 and naive.bias == 0
    # each series' week: |22/7 - 10| on the Saturday, |22/7 - 2| on six days
    assert flat.abs_error == pytest.approx(2 * 3 * 2 * 6 * (22 / 7 - 2), rel=1e-6)
    assert 0 <= model.coverage <= 1 and flat.coverage is None
