"""Package-level checks: light import, CLI, layout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "vllm", "ray", "pyserini", "bm25s", "alfworld", "textworld", "flask")


def test_import_is_light():
    code = (
        "import sys, gymnasium as gym, empg_gym; e = gym.make('empg/KeyDoor-v0'); e.reset(seed=0); "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_cli_envs_json_lists_the_toys():
    out = subprocess.run([sys.executable, "-m", "empg_gym.cli", "envs", "--json"], capture_output=True,
                         text=True, check=True)
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert rows["empg/KeyDoor-v0"]["max_episode_steps"] == 20
    assert "data" in rows["empg/GuessNumber-v0"]


def test_cli_play_with_expert_wins(capsys):
    from empg_gym.cli import main

    assert main(["play", "empg/GuessNumber-v0", "--expert", "--episodes", "4"]) == 0
    assert "won 4/4" in capsys.readouterr().out


def test_cli_play_reads_human_input(monkeypatch, capsys):
    from empg_gym.cli import play_main

    inputs = iter(["hello", "guess 1", ":q"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(inputs))
    assert play_main(["empg/GuessNumber-v0", "--task-index", "5"]) == 0
    out = capsys.readouterr().out
    assert "admissible: guess 1 |" in out and "Invalid action" in out and "too low" in out


def test_cli_errors_are_clear(capsys):
    from empg_gym.cli import main

    assert main(["nope"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert main(["play", "empg/NoSuchEnv-v0"]) == 2
    assert "cannot make" in capsys.readouterr().err


@pytest.mark.parametrize("folder", ["agents", "baselines", "leaderboard", "data"])
def test_layout_folders_have_readmes(folder):
    assert (ROOT / folder / "README.md").is_file()


def test_the_install_script_installs_pinned_torch_first_and_constrains_every_resolving_install(tmp_path):
    """Run scripts/install.sh against a stand-in venv whose python records its arguments (nothing installs)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            req = Requirement(line)
            pins[req.name] = str(req.specifier)
    assert pins["torch"] == "==2.13.0"
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.txt"
    stub = venv / "bin" / "python"
    stub.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    stub.chmod(0o755)
    subprocess.run(["bash", str(ROOT / "scripts" / "install.sh")], check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "EMPG_VENV": str(venv)})
    installs = [c.split() for c in log.read_text().splitlines() if " pip " in f" {c} " and "install" in c.split()]
    assert installs, "the script installed nothing"
    resolving = [c for c in installs if "--upgrade" not in c and "--no-deps" not in c]
    assert resolving[0][-1] == "torch==2.13.0"  # torch first, before anything could pull another build
    for c in resolving:
        i = c.index("-c")
        assert c[i + 1] == "constraints.txt", c
