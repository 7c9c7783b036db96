#!/usr/bin/env bash
# One command for a newcomer: install everything into .venv, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
VENV="${EMPG_VENV:-.venv}"
"$VENV/bin/empg-gym" envs
"$VENV/bin/empg-play" empg/KeyDoor-v0 --expert --episodes 3
"$VENV/bin/empg-play" empg/GuessNumber-v0 --expert --episodes 3
