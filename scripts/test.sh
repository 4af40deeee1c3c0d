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

cargo test --workspace --locked
cargo build --locked --bin latchkey
LATCHKEY_BIN="$CARGO_TARGET_DIR/debug/latchkey" scripts/interop-node.sh
LATCHKEY_BIN="$CARGO_TARGET_DIR/debug/latchkey" scripts/interop.sh
LATCHKEY_BIN="$CARGO_TARGET_DIR/debug/latchkey" scripts/schemathesis.sh
LATCHKEY_BIN="$CARGO_TARGET_DIR/debug/latchkey" scripts/console.sh
