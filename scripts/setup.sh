#!/usr/bin/env bash
# Idempotent setup: virtual environment, pinned packages, Delta jars in a local cache.
# The first run needs the network (PyPI, Maven Central); later runs change nothing and need none.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "setup: Python 3.11 is required (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
command -v java >/dev/null || { echo "setup: Java 17 is required (no 'java' on PATH)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "setup: installing pinned packages into .venv"
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e ".[dev]"
  rm -f .venv/.installed-* && touch "$stamp"
fi

# Spark and Ivy are chatty while resolving; their log is kept for when it fails.
mkdir -p .cache
.venv/bin/python -m lakehouse.runtime.jars 2>.cache/resolve-jars.log \
  || { tail -n 30 .cache/resolve-jars.log >&2; echo "setup: resolving the Delta jars failed (log: .cache/resolve-jars.log)" >&2; exit 1; }

# The real source systems (Kafka's jars, Debian's PostgreSQL) for `scripts/services.sh up`
# and the tests that start them (docs/sources.md). Without them only those tests fail, and
# they say why.
scripts/services.sh install \
  || echo "setup: warning: Kafka / PostgreSQL not installed; scripts/services.sh up will fail" >&2
