"""Backtest of gold.mart_demand_forecast on rolling origins: for each weekly origin of the
last weeks, the forecaster (the mart's YAML params) trained on the sales up to it, against the
seasonal naive (same weekday last week) and a flat line: WAPE, bias, interval coverage."""

import sys

from lakehouse import errors
from lakehouse.marts.forecast_eval import backtest, format_backtest
from lakehouse.runtime import cli, job

MART = "gold.mart_demand_forecast"
SALES = "gold.mart_item_sales_daily"


def main() -> int:
    p = cli.parser(__doc__)
    p.add_argument("--weeks", type=int, default=8, help="weekly origins (default 8)")
    args = p.parse_args()
    if args.weeks < 1:
        p.error("--weeks must be at least 1")
    return job.run("forecast-eval", args, lambda work: run(work, args), lock=False, needs_key=False)


def run(work: job.Work, args) -> int:
    sales = work.read(SALES)
    params = work.project.table(MART).spec.params
    results, origins = backtest(sales, params, args.weeks, say=print)
    print(
        f"{SALES}: origins {origins[0]} .. {origins[-1]}, {params.get('horizon_days', 14)} days each"
    )
    print(format_backtest(results))
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
