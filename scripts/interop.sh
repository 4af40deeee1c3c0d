#!/usr/bin/env bash
# Interop tests: run python-keycloak (tests/interop) against a real latchkey binary.
#
#   scripts/interop.sh [pytest args...]
#
# LATCHKEY_BIN  server binary (default: ${CARGO_TARGET_DIR:-target}/debug/latchkey)
# PYTHON        interpreter used to create the virtualenv (default: python3)
# The virtualenv lives in .venv at the repository root (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
# Pinned requirements: a quick no-op once installed.
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q -r tests/interop/requirements.txt

LATCHKEY_BIN="${LATCHKEY_BIN:-${CARGO_TARGET_DIR:-target}/debug/latchkey}"
# Make it absolute so it does not depend on pytest's working directory.
[[ "$LATCHKEY_BIN" = /* ]] || LATCHKEY_BIN="$ROOT/$LATCHKEY_BIN"
export LATCHKEY_BIN

# Leave no __pycache__ / .pytest_cache behind in tests/interop.
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/interop "$@"
