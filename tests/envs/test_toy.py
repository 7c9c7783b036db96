"""Toy envs: hand-checked dynamics and the scripted experts' optimality."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest

import empg_gym  # noqa: F401
from empg_gym.envs.toy import GuessNumberEnv, KeyDoorEnv


def play_expert(env, **reset_kwargs):
    obs, info = env.reset(**reset_kwargs)
    steps, total = 0, 0.0
    terminated = truncated = False
    while not (terminated or truncated):
        obs, r, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        assert info["action_valid"]
        steps += 1
        total += r
    return steps, total, info


def test_guess_number_feedback_and_reward():
    env = GuessNumberEnv(n=16)
    obs, info = env.reset(seed=0, options={"task_index": 9})  # hidden number 10
    assert info["task_id"] == "guess16-10"
    obs, r, term, trunc, info = env.step("guess 4")
    assert "higher" in obs and r == 0.0 and not term and info["action_valid"]
    obs, r, term, trunc, info = env.step("GUESS   12 ")
    assert "lower" in obs and not term
    obs, r, term, trunc, info = env.step("guess 17")
    assert not info["action_valid"] and "between 1 and 16" in info["message"]
    obs, r, term, trunc, info = env.step("guess 10")
    assert (r, term, info["won"], info["score"]) == (1.0, True, True, 1.0)
    assert info["admissible_actions"] is None
    obs, r, term, trunc, info = env.step("guess 10")  # after the end
    assert not info["action_valid"] and "reset" in info["message"]


@pytest.mark.parametrize("n", [2, 7, 16, 100])
def test_guess_number_expert_is_binary_search(n):
    env = GuessNumberEnv(n=n)
    worst = 0
    for i in range(n):
        steps, total, info = play_expert(env, seed=0, options={"task_index": i})
        assert total == 1.0 and info["won"]
        worst = max(worst, steps)
    assert worst == math.ceil(math.log2(n + 1))


def test_key_door_needs_the_key():
    env = KeyDoorEnv(size=3)
    for i in range(50):
        env.reset(seed=0, options={"task_index": i})
        u = env
        # walk to the door without the key: opening fails and is not terminal
        while u._pos != u._door:
            dr, dc = u._door[0] - u._pos[0], u._door[1] - u._pos[1]
            a = ("go south" if dr > 0 else "go north") if dr else ("go east" if dc > 0 else "go west")
            _, _, _, _, info = env.step(a)
            assert info["action_valid"]
        obs, r, term, trunc, info = env.step("open door")
        if not u._has_key:
            assert "locked" in obs and r == 0.0 and not term and info["action_valid"]


def test_key_door_expert_is_optimal_and_always_wins():
    env = KeyDoorEnv(size=3)
    for i in range(200):
        steps, total, info = play_expert(env, seed=0, options={"task_index": i})
        u = env
        start, key, door = u._layout(i)
        manhattan = lambda a, b: abs(a[0] - b[0]) + abs(a[1] - b[1])  # noqa: E731
        assert steps == manhattan(start, key) + manhattan(key, door) + 2  # + take + open
        assert total == 1.0 and info["won"]


def test_key_door_inadmissible_action_is_invalid_with_message():
    env = KeyDoorEnv()
    obs, info = env.reset(seed=0, options={"task_index": 0})
    adm = info["admissible_actions"]
    assert adm == sorted(adm)
    bad = next(a for a in ["go north", "go south", "go east", "go west"] if a not in adm)
    obs2, r, term, trunc, info2 = env.step(bad)
    assert not info2["action_valid"] and obs2.startswith("Nothing happens.") and r == 0.0
    assert info2["admissible_actions"] == adm  # state unchanged


def test_time_limits_truncate():
    env = gym.make("empg/GuessNumber-v0")
    env.reset(seed=0)
    for _ in range(8):
        obs, r, term, trunc, info = env.step("guess 0")
    assert trunc and not term and not info["action_valid"]


def test_bad_constructor_arguments_name_the_problem():
    with pytest.raises(ValueError, match="n must be"):
        GuessNumberEnv(n=1)
    with pytest.raises(ValueError, match="size must be"):
        KeyDoorEnv(size=9)
    with pytest.raises(ValueError, match="render_mode"):
        KeyDoorEnv(render_mode="rgb_array")
