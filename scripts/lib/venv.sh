# Shared by the scripts that build a side venv (install_vllm_cpu.sh, install_verl_venv.sh); source it after
# `cd` to the repository root. Usage: venv_setup VENV  -> creates VENV if needed and defines PIP and quiet.
venv_setup() {
  local venv="$1" py="${PYTHON:-python3}"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  PIP=("$venv/bin/python" -m pip --disable-pip-version-check -q)
}
# pip's "WARNING: Location ..." lines about the local wheel index are noise.
quiet() { grep -v "^WARNING: Location" || true; }
