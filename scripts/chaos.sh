#!/usr/bin/env bash
# A chaos drill over the real systems (docs/operations.md): N cycles of a simulated day
# landing in files, Kafka and PostgreSQL, a pipeline run killed (kill -9 of its process
# group) at a random moment, some with the broker or the database restarted mid-run; then a
# clean run and the checks (bronze = rows sent, silver keys unique, gold = a full rebuild).
#   scripts/chaos.sh [--cycles 20] [--seed 1] [--void-share 0.01] [--folder DIR] [--keep]
# Exit 0 when every check passed, 1 otherwise. Needs scripts/setup.sh (Kafka, PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
exec nice -n 10 .venv/bin/python -m lakehouse.bench.chaos "$@"
