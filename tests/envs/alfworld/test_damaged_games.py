"""Damaged ``game.tw-pddl`` files: a ValueError naming the file, from the loader and from the env."""

from __future__ import annotations

import json

import pytest

from empg_gym.envs.alfworld.export import problem_text
from empg_gym.envs.alfworld.generate import generate_game
from empg_gym.envs.alfworld.pddl import load_game


@pytest.fixture(scope="module")
def good() -> dict:
    g = generate_game("valid_seen", 0)
    return {"pddl_domain": "(define (domain alfred))", "grammar": "", "pddl_problem": problem_text(g),
            "solvable": True, "walkthrough": []}


def _cases(good: dict) -> dict[str, tuple[bytes, str]]:
    text = json.dumps(good)
    return {
        "binary": (bytes(range(128, 256)) * 8, "not a readable game.tw-pddl"),
        "truncated": (text[: len(text) // 2].encode(), "not a readable game.tw-pddl"),
        "empty": (b"", "not a readable game.tw-pddl"),
        "deep": (b"[" * 100000, "not a readable game.tw-pddl"),
        "a_list": (b"[1, 2]", "is not a game.tw-pddl file"),
        "no_problem": (json.dumps({"grammar": ""}).encode(), "is not a game.tw-pddl file"),
        "problem_cut": (json.dumps({**good, "pddl_problem": good["pddl_problem"][:200]}).encode(), "damaged"),
        "problem_number": (json.dumps({**good, "pddl_problem": 42}).encode(), "damaged game.tw-pddl"),
        "walkthrough_number": (json.dumps({**good, "walkthrough": 7}).encode(), "damaged game.tw-pddl"),
    }


def test_the_fixture_game_loads(tmp_path, good):
    p = tmp_path / "game.tw-pddl"
    p.write_text(json.dumps(good))
    assert load_game(p).problem.goal


@pytest.mark.parametrize("case", ["binary", "truncated", "empty", "deep", "a_list", "no_problem",
                                  "problem_cut", "problem_number", "walkthrough_number"])
def test_damaged_game_names_the_file(tmp_path, good, case):
    blob, needle = _cases(good)[case]
    p = tmp_path / "game.tw-pddl"
    p.write_bytes(blob)
    with pytest.raises(ValueError) as e:
        load_game(p)
    assert str(p) in str(e.value) and needle in str(e.value), str(e.value)


def test_env_over_a_damaged_real_game_names_it(tmp_path, good):
    from empg_gym.envs.alfworld.env import ALFWorldEnv

    d = tmp_path / "json_2.1.1" / "valid_seen" / "pick_and_place_simple-Pencil-None-Dresser-330" / "trial_1"
    d.mkdir(parents=True)
    (d / "game.tw-pddl").write_bytes(json.dumps(good).encode()[:300])
    env = ALFWorldEnv(data_dir=str(tmp_path), split="valid_seen", source="real")
    with pytest.raises(ValueError) as e:
        env.reset(options={"task_index": 0})
    assert str(d / "game.tw-pddl") in str(e.value)
