#!/usr/bin/env bash
# The whole test suite: unit tests, the integration binary (SQLite always, PostgreSQL when
# reachable; mandatory when CI is set) and the interop tests with clients others wrote:
# python-keycloak (pytest), openid-client, the MCP SDK and the MCP conformance suite (node
# --test), then schemathesis against the OpenAPI document (scripts/schemathesis.sh); last,
# the admin console in headless Chromium (scripts/console.sh).
#
#   scripts/test.sh
#
# PostgreSQL: LATCHKEY_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

# A header per phase, so that a failure's phase is plain in a long log.
phase() { printf '\n==== %s ====\n' "$*"; }

phase "1/5 unit and integration tests (SQLite and PostgreSQL)"
cargo test --workspace --locked
cargo build --locked --bin latchkey
export LATCHKEY_BIN="$CARGO_TARGET_DIR/debug/latchkey"
phase "2/5 interop: openid-client, the Keycloak admin client, the MCP SDK and conformance package (Node.js)"
scripts/interop-node.sh
phase "3/5 interop: python-keycloak"
scripts/interop.sh
phase "4/5 hostile input and schemathesis against /openapi.json"
scripts/schemathesis.sh
phase "5/5 the admin console in headless Chromium"
scripts/console.sh
phase "all tests passed"
