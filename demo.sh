#!/usr/bin/env bash
# Set up if needed, simulate a few days of the retailer's systems and run the whole pipeline
# day by day in local mode, into ./warehouse (or $LAKEHOUSE_ROOT). Extra arguments go to the
# demo job, e.g. ./demo.sh --days 7 --fresh
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec ./spark-submit.sh demo "$@"
