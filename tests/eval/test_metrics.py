"""Metrics and bootstrap CIs against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from empg_gym.eval.metrics import bootstrap_ci, episode_record, summarize
from empg_gym.types import Trajectory, Turn

from .helpers import guess_records


def test_episode_record_from_trajectory():
    turns = (
        Turn(observation="o0", action="a", token_ids=(1, 2, 3), action_valid=False, reward=0.0),
        Turn(observation="o1", action="b", token_ids=(4,), format_valid=False, reward=0.0),
        Turn(
            observation="o2",
            action="c",
            token_ids=(5, 6),
            reward=1.0,
            terminated=True,
            info={"task_type": "pick_and_place_simple", "won": True, "em": 1},
        ),
    )
    traj = Trajectory("empg/X-v0", "t7", "task", turns, seed=12, won=True, score=0.5)
    r = episode_record(traj, episode=4, seed=0, task_position=3)
    assert r == {
        "episode": 4,
        "seed": 0,
        "task": 3,
        "task_id": "t7",
        "reset_seed": 12,
        "won": True,
        "score": 0.5,
        "steps": 3,
        "invalid_steps": 2,
        "tokens": 6,
        "return": 1.0,
        "truncated": False,
        "task_type": "pick_and_place_simple",
        "em": 1.0,
    }


def test_bootstrap_two_values_hand_computed():
    # Resampled means of [0, 1] are 0, .5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5%
    # quantiles of 2,000 draws are 0 and 1.
    vals = np.array([0.0, 1.0])
    assert bootstrap_ci(lambda idx: vals[idx].mean(axis=1), 2) == (0.0, 1.0)


def test_bootstrap_degenerate_and_empty():
    vals = np.full(7, 0.25)
    assert bootstrap_ci(lambda idx: vals[idx].mean(axis=1), 7) == (0.25, 0.25)
    assert all(math.isnan(x) for x in bootstrap_ci(lambda idx: idx.mean(axis=1), 0))


def test_bootstrap_deterministic_and_covers_mean():
    rng = np.random.default_rng(1)
    vals = rng.random(50)
    a = bootstrap_ci(lambda idx: vals[idx].mean(axis=1), 50)
    b = bootstrap_ci(lambda idx: vals[idx].mean(axis=1), 50)
    assert a == b and a[0] < vals.mean() < a[1]
    # the standard error of a mean of U(0,1) over 50 draws is ~0.041: a 95% interval is ~0.16 wide
    assert 0.10 < a[1] - a[0] < 0.22


def test_summarize_hand_computed():
    won = [True, False, True, True] + [False] * 12
    steps = [2, 4, 3, 1] + [8] * 12
    invalid = [0, 2, 1, 0] + [8] * 12
    tokens = [10, 20, 30, 40] + [0] * 12
    out = summarize(guess_records(won, steps=steps, invalid=invalid, tokens=tokens))
    m = out["metrics"]
    assert m["success"]["mean"] == 3 / 16 and m["success"]["n"] == 16
    assert m["steps"]["mean"] == (10 + 96) / 16
    assert m["invalid_action_rate"]["mean"] == pytest.approx(
        (3 + 96) / 106
    )  # pooled over turns, not averaged
    assert m["tokens_per_episode"]["mean"] == 100 / 16
    lo, hi = m["success"]["ci"]
    assert 0.0 <= lo < 3 / 16 < hi <= 0.5
    assert out["per_type"] == {} and out["per_source"] == {}
    assert out["per_seed"] == {"0": {"success": 3 / 16, "score": 3 / 16, "n": 16}}


def test_per_type_and_seeds_cluster_by_task():
    types = ["pick_and_place_simple"] * 8 + ["look_at_obj_in_light"] * 8
    won = [True] * 8 + [False] * 8 + [True] * 4 + [False] * 12  # seed 0 then seed 1
    out = summarize(guess_records(won, seeds=(0, 1), task_type=types))
    assert out["per_type"]["pick_and_place_simple"]["success"]["mean"] == 12 / 16
    assert out["per_type"]["look_at_obj_in_light"]["success"]["mean"] == 0.0
    assert out["per_type"]["look_at_obj_in_light"]["success"]["ci"] == [0.0, 0.0]
    assert out["per_seed"]["0"]["success"] == 0.5 and out["per_seed"]["1"]["success"] == 0.25
    assert out["metrics"]["success"]["n"] == 32


def test_per_source_em_f1():
    recs = guess_records([True, False] * 8)
    for r in recs:
        r["data_source"] = "hotpotqa" if r["task"] < 8 else "bamboogle"
        r["em"], r["f1"] = float(r["won"]), 0.5 + 0.5 * r["won"]
    out = summarize(recs)["per_source"]
    assert set(out) == {"bamboogle", "hotpotqa"}
    assert out["hotpotqa"]["em"]["mean"] == 0.5 and out["hotpotqa"]["f1"]["mean"] == 0.75
