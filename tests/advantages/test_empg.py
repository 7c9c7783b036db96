from functools import partial

import numpy as np
import pytest

from empg_gym.advantages import get
from empg_gym.advantages.empg import empg as empg_fn
from empg_gym.advantages.empg import modulation
from empg_gym.advantages.grpo import grpo as grpo_fn
from empg_gym.types import StepBatch

from .util import batch, permuted

# The hand-computed cases here are the trajectory protocol's (one score per trajectory, penalties in the
# returns); the verl-agent protocol's are in test_protocol.py and test_verl_agent_parity.py.
empg = partial(empg_fn, protocol="trajectory")
grpo = partial(grpo_fn, protocol="trajectory")

# T0: rewards (0, 1), entropies (1, 3); T1: reward 0, entropy 2. GRPO: +-0.5 / (sqrt(0.5) + 1e-6) = +-a
B = batch([(0, [0, 1], [1.0, 3.0]), (0, [0], [2.0])])
A = 0.5 / (np.sqrt(0.5) + 1e-6)
# min-max normalised entropies Hn = (0, 1, 0.5); g = exp(-k Hn) / mean(exp(-k Hn)) with k = 1
_W = np.exp(-np.array([0.0, 1.0, 0.5]))
G = _W / _W.mean()  # (1.519441, 0.558971, 0.921588)
# A_mod = g * A, plus the future-clarity bonus zeta * exp(-k' Hn_next) on step 0 (its next step has Hn = 1)
A_MOD = np.array([G[0] * A + 0.1 * np.exp(-1.0), G[1] * A, -G[2] * A])  # (1.111194, 0.395252, -0.651660)


def test_empg_hand_computed():
    assert A == pytest.approx(0.5 / (np.sqrt(0.5) + 1e-6))
    np.testing.assert_allclose(empg(B, final_norm="none"), A_MOD, rtol=1e-7)
    centred = A_MOD - A_MOD.mean()  # final_norm "mean"
    np.testing.assert_allclose(empg(B), centred, rtol=1e-7)
    np.testing.assert_allclose(empg(B, final_norm="mean_std"), centred / (A_MOD.std() + 1e-8), rtol=1e-7)


def test_ablations():
    # g only: zeta = 0
    np.testing.assert_allclose(empg(B, ablation="g_only", final_norm="none"), G * np.array([A, A, -A]), rtol=1e-7)
    np.testing.assert_allclose(empg(B, ablation="g_only", zeta=5.0), empg(B, zeta=0.0))
    # f only: k = 0 -> g = 1: (a + 0.1 e^-1, a, -a)
    np.testing.assert_allclose(empg(B, ablation="f_only", final_norm="none"), [A + 0.1 * np.exp(-1), A, -A],
                               rtol=1e-7)


def test_g_has_batch_mean_one():
    rng = np.random.default_rng(0)
    h = rng.gamma(2.0, size=1000)
    g, _ = modulation(h, np.zeros(1000, int), np.zeros(1000, bool), k=1.7, k_next=1.0, eps=1e-8)
    assert g.mean() == pytest.approx(1.0, abs=1e-12)


def test_equal_entropies_reduce_to_base_plus_constant_bonus():
    rng = np.random.default_rng(1)
    trajs = [(g, rng.integers(0, 2, size=rng.integers(1, 5)).astype(float), None) for g in range(3) for _ in range(4)]
    b = batch([(g, r, [0.7] * len(r)) for g, r, _ in trajs])
    base = grpo(b)
    not_last = np.r_[b.traj_id[1:] == b.traj_id[:-1], False]
    want = base + 0.1 * not_last  # g = 1; f = exp(0) = 1 on non-final steps
    np.testing.assert_allclose(empg(b, final_norm="none"), want, atol=1e-12)
    np.testing.assert_allclose(empg(b), want - want.mean(), atol=1e-12)


def test_confidence_ordering_within_trajectory():
    # successful trajectory (A > 0) and failed one (A < 0), each with a confident and an uncertain step
    b = batch([(0, [0, 1], [0.1, 2.0]), (0, [0, 0], [0.2, 1.5])])
    out = empg(b, zeta=0.0, final_norm="none")
    assert out[0] > out[1] > 0  # A > 0: the confident step gets more
    assert out[2] < out[3] < 0  # A < 0: the confident step gets a more negative one


def test_k_zero_zeta_zero_is_centred_base():
    rng = np.random.default_rng(2)
    b = batch([(g, rng.normal(size=3), rng.gamma(1.0, size=3)) for g in range(4) for _ in range(3)])
    base = grpo(b, scale_std=False)
    np.testing.assert_allclose(empg(b, k=0.0, zeta=0.0, base_kwargs={"scale_std": False}), base - base.mean(),
                               atol=1e-12)


def test_invariant_to_entropy_shift_and_scale():
    rng = np.random.default_rng(3)
    b = batch([(g, rng.normal(size=4), rng.gamma(1.0, size=4)) for g in range(3) for _ in range(2)])
    ref = empg(b)
    for h in (b.entropy + 5.0, b.entropy * 3.0, b.entropy * 0.2 - 1.0):
        b2 = StepBatch(b.traj_id, b.step, b.group_id, b.reward, b.terminated, b.truncated, h)
        np.testing.assert_allclose(empg(b2), ref, atol=1e-7)


def test_order_independent():
    rng = np.random.default_rng(4)
    b = batch([(g, rng.normal(size=3), rng.gamma(1.0, size=3)) for g in range(2) for _ in range(3)])
    perm = rng.permutation(len(b))
    np.testing.assert_allclose(empg(permuted(b, perm)), empg(b)[perm], atol=1e-12)


def test_degenerate_batches():
    # a single step: base 0, no next step -> 0
    assert empg(batch([(0, [1.0], [0.3])])).tolist() == [0.0]
    # length-1 episodes: no bonus at all; result is g * A centred
    b = batch([(0, [1.0], [0.5]), (0, [0.0], [1.5])])
    a = grpo(b)
    g = np.exp(-np.array([0.0, 1.0]) * 1 / (1 + 1e-8))
    g = g / g.mean()
    np.testing.assert_allclose(empg(b, final_norm="none"), g * a, atol=1e-12)
    # equal rewards: base 0, only the bonus remains (centred)
    b = batch([(0, [0, 0], [1.0, 2.0]), (0, [0], [3.0])])
    bonus = np.array([0.1 * np.exp(-0.5), 0, 0])
    np.testing.assert_allclose(empg(b), bonus - bonus.mean(), atol=1e-8)


def test_zero_mean_after_final_norm():
    rng = np.random.default_rng(5)
    b = batch([(g, rng.normal(size=5), rng.gamma(1.0, size=5)) for g in range(4) for _ in range(4)])
    assert abs(empg(b).mean()) < 1e-12
    out = empg(b, final_norm="mean_std")
    assert abs(out.mean()) < 1e-12 and out.std() == pytest.approx(1.0, abs=1e-6)


def test_other_bases():
    b = batch([(0, [0, 1], [1.0, 3.0]), (0, [0], [2.0]), (0, [1], [0.5])], anchors=[["x", "y"], ["x"], ["z"]])
    for base in ("rloo", "dapo", "gigpo", "reinforce_pp"):
        out = empg(b, base=base)
        assert out.shape == (4,) and abs(out.mean()) < 1e-12
    np.testing.assert_allclose(empg(b, base="dapo"), empg(b))


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="entropy is None"):
        empg(batch([(0, [1])], entropy=False))
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="entropy has 1 non-finite"):
            empg(batch([(0, [1, 0], [0.5, bad])]))
    with pytest.raises(ValueError, match="final_norm"):
        empg(B, final_norm="std")
    with pytest.raises(ValueError, match="ablation"):
        empg(B, ablation="h_only")
    with pytest.raises(ValueError, match="own base"):
        empg(B, base="empg")
    with pytest.raises(KeyError, match="unknown advantage estimator"):
        empg(B, base="nope")
    with pytest.raises(ValueError, match="no hyperparameter|unexpected keyword"):
        empg(B, base_kwargs={"zeta": 1})


def test_registered():
    assert get("empg") is empg_fn
