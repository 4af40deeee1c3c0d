#!/usr/bin/env bash
# Browser end-to-end tests of the admin console (tests/console): headless Chromium driven
# by playwright-core against a real latchkey binary. Screenshots: test-artifacts/console/.
#
#   scripts/console.sh [node --test args...]
#
# LATCHKEY_BIN  server binary (default: ${CARGO_TARGET_DIR:-target}/debug/latchkey)
# Installs Debian's chromium with apt when /usr/bin/chromium is missing, and the pinned
# playwright-core (tests/console/package-lock.json) with npm ci.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

LATCHKEY_BIN="${LATCHKEY_BIN:-${CARGO_TARGET_DIR:-target}/debug/latchkey}"
[[ "$LATCHKEY_BIN" = /* ]] || LATCHKEY_BIN="$ROOT/$LATCHKEY_BIN"
export LATCHKEY_BIN

if [[ ! -x /usr/bin/chromium ]]; then
    SUDO=""
    [[ "$(id -u)" -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends chromium
fi

cd "$ROOT/tests/console"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund
fi

exec node --test --test-reporter=spec --test-concurrency=1 "$@"
