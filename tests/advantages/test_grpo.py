from functools import partial

import numpy as np
import pytest

from empg_gym.advantages import get
from empg_gym.advantages.grpo import grpo as grpo_fn

from .util import batch, permuted

# The hand-computed cases here are the trajectory protocol's (one score per trajectory, penalties in the
# returns); the verl-agent protocol's are in test_protocol.py and test_verl_agent_parity.py.
grpo = partial(grpo_fn, protocol="trajectory")

# group 0: returns 1, 0, 0 (mean 1/3, unbiased std sqrt(1/3)); group 1: returns 2, 2; group 2: one trajectory
B = batch([(0, [0, 1]), (0, [0]), (0, [0, 0, 0]), (1, [2]), (1, [1, 1]), (2, [5])])
S3 = np.sqrt(1 / 3)


def test_grpo_hand_computed():
    a = (2 / 3) / (S3 + 1e-6)
    c = (-1 / 3) / (S3 + 1e-6)
    want = [a, a, c, c, c, c, 0, 0, 0, 0]
    np.testing.assert_allclose(grpo(B), want, rtol=1e-12)


def test_dr_grpo_no_std():
    want = [2 / 3, 2 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3, 0, 0, 0, 0]
    np.testing.assert_allclose(grpo(B, scale_std=False), want, atol=1e-15)


def test_leave_one_out():
    # 1 - mean(0, 0) = 1; 0 - mean(1, 0) = -0.5
    want = [1, 1, -0.5, -0.5, -0.5, -0.5, 0, 0, 0, 0]
    np.testing.assert_allclose(grpo(B, scale_std=False, leave_one_out=True), want, atol=1e-15)
    np.testing.assert_allclose(grpo(B, leave_one_out=True)[[0, 2]], [1 / (S3 + 1e-6), -0.5 / (S3 + 1e-6)])


def test_group_mean_zero_per_trajectory():
    rng = np.random.default_rng(0)
    trajs = [(g, rng.normal(size=rng.integers(1, 5))) for g in range(5) for _ in range(4)]
    b = batch(trajs)
    for kw in ({}, {"scale_std": False}, {"leave_one_out": True}):
        out = grpo(b, **kw)
        first = np.r_[True, b.traj_id[1:] != b.traj_id[:-1]]  # one value per trajectory
        for g in range(5):
            assert abs(out[first & (b.group_id == g)].mean()) < 1e-12
    # z-scores: unit unbiased std inside each group
    out = grpo(b, eps=0.0)
    first = np.r_[True, b.traj_id[1:] != b.traj_id[:-1]]
    assert np.allclose([out[first & (b.group_id == g)].std(ddof=1) for g in range(5)], 1.0)


def test_order_independent():
    perm = np.random.default_rng(1).permutation(len(B))
    np.testing.assert_allclose(grpo(permuted(B, perm)), grpo(B)[perm])


def test_equal_rewards_and_single_trajectory_give_zero():
    assert np.all(grpo(batch([(0, [1, 0]), (0, [1])])) == 0)
    assert np.all(grpo(batch([(0, [3, 4, 5])])) == 0)


def test_dapo_is_grpo_alias():
    assert get("dapo") is grpo_fn


def test_bad_group_ids_rejected():
    b = batch([(0, [0, 1])])
    b.group_id[1] = 7
    with pytest.raises(ValueError, match="different group_id"):
        grpo(b)
