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
# pyspark comes as a source archive: pip unpacks and builds it in $TMPDIR, then installs it
# here, about 2 GB at the peak. Say so plainly rather than fail half-way with ENOSPC.
need_mb=2500
free_mb() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }
if [ ! -f "$stamp" ]; then
  for dir in . "${TMPDIR:-/tmp}"; do
    [ "$(free_mb "$dir")" -ge "$need_mb" ] || {
      echo "setup: $(cd "$dir" && pwd) has $(free_mb "$dir") MB free; installing the pinned packages needs about $need_mb MB (set TMPDIR to a roomier place if it is the temporary folder)" >&2
      exit 1
    }
  done
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
