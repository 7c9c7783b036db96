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


def test_torch_is_pinned_in_the_install_path():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()
    install = (ROOT / "scripts" / "install.sh").read_text()
    assert "-c constraints.txt" in install and "torch==2.13.0" in install
