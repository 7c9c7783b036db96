#!/usr/bin/env bash
# The test command: the default (fast) suite. Extra args go to pytest, e.g. `-m slow` or `-m ""` for all.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${EMPG_VENV:-.venv}"
if ! "$VENV/bin/python" -c "import empg_gym" 2>/dev/null; then
  bash scripts/install.sh || exit 1
fi
"$VENV/bin/python" -m pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi
exit "$rc"
