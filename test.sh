#!/usr/bin/env bash
# Set up if needed, then run the test suite (extra arguments go to pytest, e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/pytest "$@"
