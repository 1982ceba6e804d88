#!/usr/bin/env bash
# Serve the gold tables: the API and the dashboard on http://127.0.0.1:8000/ (no JVM).
# Options go to python -m lakehouse.serving (--host, --port, --conf); see docs/serving.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m lakehouse.serving "$@"
