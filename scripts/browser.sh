#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test (tests/test_dashboard.py), if it
# is missing. Needs root (or sudo) and Debian's package mirrors the first time only.
set -euo pipefail
command -v chromium >/dev/null && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "browser: installing Debian's chromium for the dashboard test"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null || { echo "browser: chromium did not install" >&2; exit 1; }
