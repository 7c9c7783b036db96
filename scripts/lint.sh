#!/usr/bin/env bash
# Static checks, run by CI before the tests: ruff (rules in pyproject.toml) over the whole tree, then mypy over
# the package. mypy keeps its cache in .mypy_cache, so a re-run checks only what changed (a cold run is about
# 30 s on an idle 2-core machine).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${EMPG_VENV:-.venv}"
"$VENV/bin/python" -m ruff check . || { echo "lint: ruff found problems (ruff check --fix fixes some)"; exit 1; }
"$VENV/bin/python" -m mypy empg_gym || { echo "lint: mypy found problems"; exit 1; }
echo "lint: ruff and mypy clean"
