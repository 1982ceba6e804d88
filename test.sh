#!/usr/bin/env bash
# Set up if needed, then run the test suite (extra arguments go to pytest, e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
scripts/browser.sh  # Debian's chromium, for the dashboard's browser test
exec .venv/bin/pytest "$@"
