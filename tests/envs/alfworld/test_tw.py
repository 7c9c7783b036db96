"""The real engine: alfworld's TextWorld plays our exported games exactly like the simulator (slow; extra alfworld)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from empg_gym._optional import is_available
from empg_gym.envs.alfworld.env import GameSet

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (is_available("alfworld") and is_available("textworld")),
                       reason='alfworld not installed (pip install "empg-gym[alfworld]")'),
]


def test_exported_games_play_identically_in_textworld(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
    from alfworld_fidelity import compare_game

    from empg_gym.envs.alfworld.tw import exported_game_file

    games = GameSet("valid_unseen", source="generated", num_games=6)
    rng = random.Random(0)
    for i in range(len(games)):
        r = compare_game(exported_game_file(games, i, str(tmp_path)), games.game(i), rng, random_frac=0.3)
        assert r["won"] and r["identical"] == r["steps"], r["mismatches"]


def test_tw_env_plays_a_generated_game(tmp_path, monkeypatch):
    import gymnasium as gym

    import empg_gym  # noqa: F401

    monkeypatch.setenv("EMPG_CACHE", str(tmp_path))
    monkeypatch.delenv("ALFWORLD_DATA", raising=False)
    env = gym.make("empg/ALFWorld-TW-v0")
    obs, info = env.reset(options={"task_index": 0})
    assert info["engine"] == "textworld" and info["data_source"] == "generated"
    assert obs.startswith("-= Welcome to TextWorld, ALFRED! =-")
    obs, r, term, trunc, info = env.step("jump")
    assert obs == "Nothing happens." and not info["action_valid"]
