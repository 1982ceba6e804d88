#!/usr/bin/env bash
# Set up if needed, simulate a few days of the retailer's systems and run the whole pipeline
# day by day in local mode, into ./warehouse (or $LAKEHOUSE_ROOT). Extra arguments go to the
# demo job, e.g. ./demo.sh --days 7 --fresh
#   ./demo.sh --systems real   the same with real systems: starts Kafka and PostgreSQL
#                              (scripts/services.sh up), publishes e-commerce to Kafka and keeps
#                              the shops in PostgreSQL; bronze reads them (conf/systems/real).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
args=" $* "
if [[ "$args" == *" --systems real "* || "$args" == *" --systems=real "* ]]; then
  scripts/services.sh up "" kafka postgres
  source .cache/services/services.env
  export LAKEHOUSE_TABLES_OVERLAY=${LAKEHOUSE_TABLES_OVERLAY:-systems/real}
  export LAKEHOUSE_ROOT=${LAKEHOUSE_ROOT:-warehouse-real}  # not mixed with the files demo
  export LAKEHOUSE_PG_COMPARE_EVERY=${LAKEHOUSE_PG_COMPARE_EVERY:-0 minutes}  # days are minutes apart
fi
exec ./spark-submit.sh demo "$@"
