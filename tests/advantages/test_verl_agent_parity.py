"""Parity with the reference pipelines' own outputs (fixtures in tests/fixtures/verl_agent, see its README).

Under the default protocol (verl-agent) every estimator must equal verl-agent's per-step advantages on
ALFWorld-like batches, invalid-action penalty included; under the trajectory protocol GRPO and RLOO (with
verl's one-member convention) must equal verl's functions applied to one row per trajectory.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from empg_gym import advantages
from empg_gym.types import StepBatch

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "verl_agent" / "alfworld_like.json"
BATCHES = ["alfworld_like", "edge"]
TOL = 1e-6


@cache
def _load() -> dict:
    return json.loads(FIXTURE.read_text())["fixtures"]


def _batch(name: str) -> tuple[StepBatch, dict]:
    fx = _load()[name]
    r = fx["rows"]
    n = len(r["traj"])
    anchor = np.empty(n, dtype=object)
    anchor[:] = r["obs"]
    b = StepBatch(
        traj_id=np.array(r["traj"]), step=np.array(r["step"]), group_id=np.array(r["group"]),
        reward=np.array(r["reward"], dtype=np.float64), terminated=np.array(r["terminated"]),
        truncated=np.array(r["truncated"]), entropy=np.array(r["entropy"]), value=np.array(r["value"]),
        anchor=anchor, penalty=fx["penalty_coef"] * np.array(r["invalid"], dtype=np.float64),
        n_tokens=np.array(r["n_tokens"]),
    )
    return b, fx


# name in the fixture -> (estimator, kwargs) under the default protocol
CASES = {
    "grpo": ("grpo", {}),
    "grpo_no_std": ("grpo", {"scale_std": False}),
    "rloo": ("rloo", {}),
    "gigpo_mean_norm": ("gigpo", {}),  # verl-agent's default mode
    "gigpo_mean_std_norm": ("gigpo", {"norm": "mean_std_norm"}),
    "reinforce_pp": ("reinforce_pp", {}),
    "reinforce_pp_baseline": ("reinforce_pp", {"group_baseline": True}),
    "gae": ("gae", {"whiten": True}),
    "empg_on_grpo": ("empg", {}),
    "empg_on_grpo_no_std": ("empg", {"base_kwargs": {"scale_std": False}}),
}


@pytest.mark.parametrize("name", BATCHES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_default_protocol_equals_verl_agent(name, case):
    b, fx = _batch(name)
    est, kw = CASES[case]
    if est == "gigpo":
        kw = {**kw, "gamma": fx["gamma"]}
    ours = advantages.get(est)(b, **kw)
    ref = np.asarray(fx["verl_agent"][case])
    assert np.max(np.abs(ours - ref)) < TOL


@pytest.mark.parametrize("name", BATCHES)
def test_gae_value_targets_equal_verl_returns(name):
    b, fx = _batch(name)
    targets = advantages.get("gae")(b) + b.value  # what the PPO trainer regresses the critic on
    assert np.max(np.abs(targets - np.asarray(fx["verl_agent"]["gae_returns"]))) < TOL


def test_fixture_is_what_the_tests_assume():
    for name in BATCHES:
        va = _load()[name]["verl_agent"]
        # one advantage per turn is exact for these references: every token of a turn got the same value
        assert va["reinforce_pp_tokens_equal"] and va["gae_tokens_equal"]
    b, _ = _batch("alfworld_like")
    assert len(np.unique(b.group_id)) == 16 and len(np.unique(b.traj_id)) == 128
    assert b.penalty.sum() > 0 and np.any(b.step == 49)  # penalties and 50-step episodes are in there
    assert not np.all(np.diff(b.traj_id) >= 0)  # rows come shuffled (verl's balance_batch reorders them)


@pytest.mark.parametrize("name", BATCHES)
def test_trajectory_protocol_equals_verl_on_one_row_per_trajectory(name):
    b, fx = _batch(name)
    ref = fx["verl_trajectory"]
    first = {}
    for i, t in enumerate(b.traj_id.tolist()):
        first.setdefault(t, i)
    idx = np.array([first[t] for t in sorted(first)])
    for case, est, kw in [("grpo", "grpo", {}), ("grpo_no_std", "grpo", {"scale_std": False}),
                          ("rloo", "rloo", {})]:
        ours = advantages.get(est)(b, protocol="trajectory", singleton="raw", **kw)[idx]
        assert np.max(np.abs(ours - np.asarray(ref[case]))) < TOL, case


def test_protocols_really_differ_on_this_batch():
    # the point of the setting: the two protocols give different advantages on an ALFWorld-like batch
    b, _ = _batch("alfworld_like")
    for est in ("grpo", "gigpo", "empg"):
        va = advantages.get(est)(b)
        tr = advantages.get(est)(b, protocol="trajectory")
        assert np.mean(np.sign(va) != np.sign(tr)) > 0.01, est
