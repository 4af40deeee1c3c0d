#!/usr/bin/env bash
# Supply chain: cargo-deny on the whole dependency graph (deny.toml): licenses (allow-list),
# bans (one version per crate, reasoned exceptions), sources (crates.io only) and RustSec
# advisories.
#
#   scripts/deny.sh
#
# cargo-deny is installed into $CARGO_HOME/bin on first use (a few minutes of compiling,
# once per machine). The advisory database is fetched from github.com; when it cannot be
# fetched, advisories are checked against a copy fetched earlier if there is one, and
# otherwise skipped with a message: an unreachable network does not fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
    echo "installing cargo-deny $CARGO_DENY_VERSION (once per machine)"
    # Its own build directory: the project's target directory stays as it is.
    CARGO_TARGET_DIR="$(mktemp -d)" cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
fi

# Every platform's crates on disk, so that cargo-deny's `cargo metadata` can run offline.
cargo fetch --locked --quiet
DB_DIR="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if timeout 90 cargo deny fetch db >/dev/null 2>&1; then
    cargo deny --offline --locked check
elif compgen -G "$DB_DIR/advisory-db-*/crates" >/dev/null; then
    echo "cargo deny: the advisory database could not be fetched; checking against the copy fetched earlier"
    cargo deny --offline --locked check
else
    {
        echo "!!! cargo deny: ADVISORIES NOT CHECKED !!!"
        echo "!!! the advisory database (github.com/rustsec/advisory-db) cannot be fetched from here, and no earlier copy exists; licenses, bans and sources are still checked !!!"
    } >&2
    cargo deny --offline --locked check bans licenses sources
fi
