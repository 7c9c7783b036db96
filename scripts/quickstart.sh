#!/usr/bin/env bash
# One command for a newcomer: install everything into .venv, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
VENV="${EMPG_VENV:-.venv}"
"$VENV/bin/empg-gym" envs
"$VENV/bin/empg-play" empg/KeyDoor-v0 --expert --episodes 3
"$VENV/bin/empg-play" empg/GuessNumber-v0 --expert --episodes 3
# Evaluate the random agent on KeyDoor's test task list (the entry goes to runs/, not the committed
# leaderboard), then print the leaderboard tables.
"$VENV/bin/empg-eval" --agent random --env empg/KeyDoor-v0 --out runs/quickstart/random_KeyDoor_test.json --no-progress
"$VENV/bin/empg-leaderboard" show
