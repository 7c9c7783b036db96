#!/usr/bin/env bash
# A separate venv (default .venv-verl, or $EMPG_VERL_VENV, or the first argument) with verl 0.9.1 and empg-gym,
# for the verl integration and its tests (tests/integrations/test_verl.py, docs/scale.md section 3).
# Separate because verl 0.9.1 pins transformers>=5.5.3,<5.11 while the main venv holds a newer one.
#
#   scripts/install_verl_venv.sh [VENV]
#   PYTHONPATH=$PWD VENV/bin/python -m pytest -q -m "" tests/integrations/test_verl.py   (they are all slow)
#
# Order matters:
#   1. torch 2.13.0 first, the CPU wheel (constraints.txt); any other torch resolves to a CUDA build.
#   2. empg-gym editable with the verl extra (pyproject.toml), verl held at 0.9.1, torch at 2.13.0 and
#      transformers below 5.11 (verl's own pin; it gives 5.10.x), plus pytest. The extra adds what the
#      integration imports from verl's `verl-core` extra without that extra's GPU-side packages (torchcodec,
#      nvtx...): cachetools, fastapi, uvicorn (verl.experimental.agent_loop) and TransferQueue (the v1
#      trainer, verl.trainer.ppo.v1, keeps its batches there).
# On a GPU machine install verl's own extras (verl[vllm] or verl[sglang]) first: they pin their CUDA torch.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-${EMPG_VERL_VENV:-.venv-verl}}"
source scripts/lib/venv.sh
venv_setup "$VENV"
CONSTRAINTS=$(mktemp)
trap 'rm -f "$CONSTRAINTS"' EXIT
{ cat constraints.txt; echo "verl==0.9.1"; echo "transformers<5.11"; } > "$CONSTRAINTS"
"${PIP[@]}" install -c "$CONSTRAINTS" "torch==2.13.0" 2>&1 | quiet
"${PIP[@]}" install -c "$CONSTRAINTS" -e ".[verl]" pytest 2>&1 | quiet
"$VENV/bin/python" - "$VENV" <<'EOF'
import sys

import torch
import transfer_queue  # noqa: F401  (verl's v1 trainer)
import transformers
import verl
import verl.trainer.ppo.v1  # noqa: F401

import empg_gym.integrations.verl  # noqa: F401
import empg_gym.integrations.verl_trainer  # noqa: F401

print(f"verl {verl.__version__} | torch {torch.__version__} | transformers {transformers.__version__} in {sys.argv[1]}")
EOF
