"""The verl-agent protocol's conventions on small hand-computed batches, and the protocols' invariants.

Each case is written out by hand in the comments; the reference outputs themselves are checked in
test_verl_agent_parity.py.
"""

import numpy as np
import pytest

from empg_gym import advantages
from empg_gym.advantages.empg import empg
from empg_gym.advantages.gae import gae
from empg_gym.advantages.gigpo import gigpo
from empg_gym.advantages.grpo import grpo
from empg_gym.advantages.reinforce_pp import reinforce_pp
from empg_gym.advantages.rloo import rloo
from empg_gym.types import StepBatch

from .util import batch, permuted

E = 1e-6


def _with(b: StepBatch, **kw) -> StepBatch:
    import dataclasses

    return dataclasses.replace(b, **{k: np.asarray(v) for k, v in kw.items()})


# T0: 2 steps, return 1; T1: 1 step, return 0 (one group)
B = batch([(0, [0, 1]), (0, [0])])


def test_cross_step_pooling_grpo():
    # rows carry their episode's return: [1, 1, 0]; mean 2/3; deviations (1/3, 1/3, -2/3), squares sum 2/3,
    # unbiased var (2/3)/2 = 1/3 -> std sqrt(1/3); A = (1/3)/sqrt(1/3) = sqrt(1/3), (-2/3)/sqrt(1/3)
    s = np.sqrt(1 / 3)
    np.testing.assert_allclose(grpo(B), [(1 / 3) / (s + E), (1 / 3) / (s + E), (-2 / 3) / (s + E)],
                               rtol=1e-12)
    # trajectory protocol: returns [1, 0]: mean 1/2, std sqrt(1/2): +-0.5/sqrt(1/2)
    h = 0.5 / (np.sqrt(0.5) + E)
    np.testing.assert_allclose(grpo(B, protocol="trajectory"), [h, h, -h], rtol=1e-12)


def test_cross_step_pooling_rloo():
    # rows [1, 1, 0], n = 3: A = 3/2 (s - 2/3) = [1/2, 1/2, -1]; trajectory: [1 - 0, 1 - 0, 0 - 1]
    np.testing.assert_allclose(rloo(B), [0.5, 0.5, -1.0], atol=1e-12)
    np.testing.assert_allclose(rloo(B, protocol="trajectory"), [1.0, 1.0, -1.0], atol=1e-12)


# T0: rewards (0, 10), penalties (0.1, 0), anchors (s0, s1); T1: reward 0, anchor s0 (one group)
P = _with(batch([(0, [0, 10]), (0, [0])], anchors=[["s0", "s1"], ["s0"]]), penalty=[0.1, 0.0, 0.0])


def test_penalty_lands_on_its_own_row_only():
    # verl-agent rows: 10 - 0.1 = 9.9, 10, 0; mean 19.9/3 = 6.6333..: [3.2667, 3.3667, -6.6333] (Dr. GRPO)
    m = 19.9 / 3
    np.testing.assert_allclose(grpo(P, scale_std=False), [9.9 - m, 10 - m, -m], atol=1e-12)
    # trajectory: the penalty is in T0's return (9.9), shared by both its steps: +-4.95
    np.testing.assert_allclose(grpo(P, scale_std=False, protocol="trajectory"), [4.95, 4.95, -4.95],
                               atol=1e-12)
    # without any penalty the two rows of T0 are equal again
    assert grpo(_with(P, penalty=[0.0, 0, 0]))[0] == grpo(_with(P, penalty=[0.0, 0, 0]))[1]


def test_gigpo_verl_agent_defaults_and_penalty_on_step_returns():
    # default norm under verl-agent is mean_norm. Episode rows as above: [9.9 - m, 10 - m, -m].
    # step returns (gamma 0.5) of env rewards: T0 (5, 10), T1 (0); minus own penalty: T0 (4.9, 10).
    # step groups: s0 {4.9, 0} mean 2.45 -> +2.45, -2.45; s1 {10} alone -> 0.
    m = 19.9 / 3
    want = [9.9 - m + 2.45, 10 - m, -m - 2.45]
    np.testing.assert_allclose(gigpo(P, gamma=0.5), want, atol=1e-12)
    np.testing.assert_allclose(gigpo(P, gamma=0.5, norm="mean_norm"), want, atol=1e-12)
    np.testing.assert_allclose(gigpo(P, gamma=0.5, norm="none"), want, atol=1e-12)
    # trajectory: episode returns (9.9, 0) -> +-4.95; penalised step returns T0 (-0.1 + 5, 10) = (4.9, 10)
    np.testing.assert_allclose(gigpo(P, gamma=0.5, norm="none", protocol="trajectory"),
                               [4.95 + 2.45, 4.95, -4.95 - 2.45], atol=1e-12)


def test_gigpo_one_member_step_group_is_zero_under_both_norms():
    # one trajectory, distinct anchors: every step group has one member -> step part 0 (verl-agent too:
    # its mean is the member's own value); episode part: rows (0 - 0.1, 0) ... Dr. GRPO of rows
    b = _with(batch([(0, [0, 1]), (0, [0, 0])], anchors=[["a", "b"], ["c", "d"]]), penalty=[0, 0, 0, 0.0])
    for protocol in advantages.PROTOCOLS:
        for norm in ("mean_norm", "mean_std_norm"):
            ep = grpo(b, scale_std=norm == "mean_std_norm", protocol=protocol)
            np.testing.assert_allclose(gigpo(b, norm=norm, protocol=protocol), ep, atol=1e-12)


def test_one_member_groups():
    # a group of one row (one 1-step trajectory) keeps its raw score under verl-agent (mean 0, std 1)
    b = batch([(0, [3.0])])
    np.testing.assert_allclose(grpo(b), [3 / (1 + E)], rtol=1e-12)
    np.testing.assert_allclose(grpo(b, scale_std=False), [3.0])
    np.testing.assert_allclose(rloo(b), [3.0])
    assert grpo(b, protocol="trajectory").tolist() == [0.0] == rloo(b, protocol="trajectory").tolist()
    np.testing.assert_allclose(grpo(b, protocol="trajectory", singleton="raw"), [3 / (1 + E)], rtol=1e-12)
    assert grpo(b, singleton="zero").tolist() == [0.0]
    # one trajectory of two steps is two rows under verl-agent: rows (3 - 0.1, 3): mean 2.95,
    # unbiased std sqrt(2 * 0.05^2) = 0.0707107 -> -+0.05 / (0.0707107 + 1e-6)
    b2 = _with(batch([(0, [0.0, 3.0])]), penalty=[0.1, 0.0])
    d = 0.05 / (np.sqrt(2 * 0.05**2) + E)
    np.testing.assert_allclose(grpo(b2), [-d, d], rtol=1e-9)
    with pytest.raises(ValueError, match="singleton"):
        grpo(b, singleton="mean")


def test_reinforce_pp_token_whitening():
    # two one-step episodes (different groups), scores 1 and 0, with 3 and 1 tokens: token values
    # (1, 1, 1, 0): mean 3/4; squared deviations 3 * 1/16 + 9/16 = 3/4; unbiased var (3/4)/3 = 1/4
    # -> A = (1 - 3/4) / sqrt(1/4 + 1e-8), (0 - 3/4) / sqrt(1/4 + 1e-8) = 0.5, -1.5
    b = _with(batch([(0, [1.0]), (1, [0.0])]), n_tokens=[3, 1])
    sd = np.sqrt(0.25 + 1e-8)
    np.testing.assert_allclose(reinforce_pp(b), [0.25 / sd, -0.75 / sd], rtol=1e-12)
    # trajectory: per step, biased std: mean 1/2, std 1/2 -> +-1
    np.testing.assert_allclose(reinforce_pp(b, protocol="trajectory"),
                               [0.5 / (0.5 + 1e-8), -0.5 / (0.5 + 1e-8)])
    with pytest.raises(ValueError, match="gamma"):
        reinforce_pp(b, gamma=0.9)
    reinforce_pp(b, gamma=0.9, protocol="trajectory")  # fine there


def test_reinforce_pp_baseline_subtracts_group_mean_from_the_score():
    # rows (1, 1, 0), group mean 2/3 -> (1/3, 1/3, -2/3); one token each: mean 0, unbiased var 1/3
    x = np.array([1 / 3, 1 / 3, -2 / 3])
    np.testing.assert_allclose(reinforce_pp(B, group_baseline=True), x / np.sqrt(1 / 3 + 1e-8), rtol=1e-12)
    # a one-row group: baseline 0 (verl: mean 0), so the row keeps its score before whitening
    b = batch([(0, [1.0]), (0, [0.0]), (1, [5.0])])
    x = np.array([0.5, -0.5, 5.0])
    np.testing.assert_allclose(reinforce_pp(b, group_baseline=True),
                               (x - x.mean()) / np.sqrt(x.var(ddof=1) + 1e-8), rtol=1e-12)


def test_gae_each_turn_its_own_sequence():
    # T0 rewards (0, 1), values (0.5, 0.8); T1 reward 0, value 0.4, truncated. verl-agent: each turn's
    # reward is its episode's return (1, 1, 0) and its sequence ends with value 0: A = s - V
    b = batch([(0, [0, 1]), (0, [0])], values=[[0.5, 0.8], [0.4]])
    b = _with(b, terminated=[False, True, False], truncated=[False, False, True])
    np.testing.assert_allclose(gae(b), [0.5, 0.2, -0.4], atol=1e-12)
    # penalty 0.1 on T0's first turn lowers that turn only: (0.9 - 0.5, 1 - 0.8, 0 - 0.4)
    np.testing.assert_allclose(gae(_with(b, penalty=[0.1, 0, 0])), [0.4, 0.2, -0.4], atol=1e-12)
    # trajectory (gamma 1, lambda 0.95, truncated bootstrapped with its own value): delta1 = 1 - 0.8 = 0.2,
    # delta0 = 0.8 - 0.5 = 0.3, A0 = 0.3 + 0.95 * 0.2 = 0.49; T1: 0 + 0.4 - 0.4 = 0
    np.testing.assert_allclose(gae(b, protocol="trajectory"), [0.49, 0.2, 0.0], atol=1e-12)
    for kw in ({"lam": 0.95}, {"gamma": 0.9}, {"bootstrap_truncated": True}):
        with pytest.raises(ValueError, match="protocol 'trajectory'"):
            gae(b, **kw)
    # whitening per token: tokens (2, 1, 1) -> values (0.5, 0.5, 0.2, -0.4)
    w = _with(b, n_tokens=[2, 1, 1])
    t = np.array([0.5, 0.5, 0.2, -0.4])
    np.testing.assert_allclose(gae(w, whiten=True), (np.array([0.5, 0.2, -0.4]) - t.mean())
                               / np.sqrt(t.var(ddof=1) + 1e-8), atol=1e-12)


def test_empg_leaves_steps_without_scored_tokens_out():
    # T0 rewards (0, 1), entropies (1, 3); T1 rewards (0, 0), entropies (2, -) where T1's last step has no
    # scored tokens (its 0.0 is a placeholder, not an entropy).
    b = _with(batch([(0, [0, 1], [1.0, 3.0]), (0, [0, 0], [2.0, 0.0])]), n_tokens=[5, 5, 5, 0])
    # scored entropies (1, 3, 2): Hn = (0, 1, 0.5); exp(-Hn) = (1, e^-1, e^-0.5), mean 0.658137
    # g = (1.519441, 0.558971, 0.921588) and 1 for the unscored step.
    # f: T0 step 0 gets e^-1 from step 1; T1 step 0 gets nothing from its unscored successor.
    # base (Dr. GRPO rows (1, 1, 0, 0), mean 1/2): (0.5, 0.5, -0.5, -0.5)
    # A_mod = (1.519441 * 0.5 + 0.1 e^-1, 0.558971 * 0.5, -0.921588 * 0.5, -0.5)
    #       = (0.796509, 0.279486, -0.460794, -0.5); mean 0.028800
    want = [0.76770846, 0.25068551, -0.48959390, -0.52880007]
    out = empg(b, base_kwargs={"scale_std": False})
    np.testing.assert_allclose(out, want, rtol=1e-7)
    # entering the placeholder as entropy 0 would make it the batch minimum and change every step
    as_zero = empg(_with(b, n_tokens=[5, 5, 5, 5]), base_kwargs={"scale_std": False})
    assert np.max(np.abs(as_zero - out)) > 0.05
    # a batch where no step was scored: g = 1, no bonus -> the centred base
    none = empg(_with(b, n_tokens=[0, 0, 0, 0]), base_kwargs={"scale_std": False})
    np.testing.assert_allclose(none, [0.5, 0.5, -0.5, -0.5], atol=1e-12)


def test_empg_passes_the_protocol_to_its_base():
    b = _with(batch([(0, [0, 1], [1.0, 3.0]), (0, [0], [2.0])]), penalty=[0.1, 0, 0])
    for protocol in advantages.PROTOCOLS:
        base = grpo(b, protocol=protocol)
        np.testing.assert_allclose(empg(b, k=0.0, zeta=0.0, protocol=protocol), base - base.mean(),
                                   atol=1e-12)
    # base_kwargs may pin another protocol for the base
    base = grpo(b, protocol="trajectory")
    np.testing.assert_allclose(empg(b, k=0.0, zeta=0.0, base_kwargs={"protocol": "trajectory"}),
                               base - base.mean(), atol=1e-12)


# ------------------------------------------------------------------------------------ invariants
def _random_batch(seed: int) -> StepBatch:
    rng = np.random.default_rng(seed)
    trajs = []
    for g in range(4):
        for _ in range(int(rng.integers(1, 5))):
            n = int(rng.integers(1, 7))
            r = np.zeros(n)
            r[-1] = 10.0 * (rng.random() < 0.5)
            trajs.append((g, r, rng.gamma(2.0, size=n)))
    b = batch(trajs, values=[rng.normal(size=len(t[1])) for t in trajs],
              anchors=[[f"s{int(x)}" for x in rng.integers(0, 3, len(t[1]))] for t in trajs])
    return _with(b, penalty=0.1 * (rng.random(len(b)) < 0.3), n_tokens=rng.integers(1, 20, len(b)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_verl_agent_group_statistics_are_over_rows(seed):
    b = _random_batch(seed)
    dr = grpo(b, scale_std=False)
    z = grpo(b, eps=0.0)
    lo = rloo(b)
    for g in np.unique(b.group_id):
        rows = b.group_id == g
        if rows.sum() < 2:
            continue
        assert abs(dr[rows].mean()) < 1e-9 and abs(lo[rows].sum()) < 1e-9  # zero mean over the rows
        if z[rows].std() > 0:
            assert z[rows].std(ddof=1) == pytest.approx(1.0, abs=1e-9)  # unit unbiased std over the rows


@pytest.mark.parametrize("name", ["grpo", "rloo", "gigpo", "reinforce_pp", "gae", "empg"])
@pytest.mark.parametrize("protocol", ["verl-agent", "trajectory"])
def test_order_independent_under_both_protocols(name, protocol):
    b = _random_batch(3)
    perm = np.random.default_rng(4).permutation(len(b))
    fn = advantages.get(name)
    np.testing.assert_allclose(fn(permuted_full(b, perm), protocol=protocol), fn(b, protocol=protocol)[perm],
                               atol=1e-9)


def permuted_full(b: StepBatch, perm: np.ndarray) -> StepBatch:
    """``permuted`` plus the protocol fields."""
    p = permuted(b, perm)
    return _with(p, penalty=np.asarray(b.penalty)[perm], n_tokens=np.asarray(b.n_tokens)[perm])


def test_protocols_agree_on_one_step_episodes_without_penalties():
    # every trajectory one step, no penalty: rows = trajectories, so pooling changes nothing
    rng = np.random.default_rng(5)
    b = batch([(g, [float(rng.integers(0, 2) * 10)]) for g in range(3) for _ in range(4)])
    for name, kw in (("grpo", {}), ("grpo", {"scale_std": False}), ("rloo", {})):
        fn = advantages.get(name)
        np.testing.assert_allclose(fn(b, **kw), fn(b, protocol="trajectory", **kw), atol=1e-12)


def test_unknown_protocol_rejected_everywhere():
    b = _random_batch(0)
    for name in advantages.list_estimators():
        with pytest.raises(ValueError, match="protocol must be one of"):
            advantages.get(name)(b, protocol="verl")


def test_token_whitening_degenerate_batches():
    # one token in the whole batch, or no scored token at all: nothing to whiten against -> zeros
    b = _with(batch([(0, [1.0]), (1, [0.0])]), n_tokens=[1, 0])
    assert reinforce_pp(b).tolist() == [0.0, 0.0]
    assert reinforce_pp(_with(b, n_tokens=[0, 0])).tolist() == [0.0, 0.0]
    # n_tokens None = one token per step
    np.testing.assert_allclose(reinforce_pp(batch([(0, [1.0]), (1, [0.0])])),
                               np.array([0.5, -0.5]) / np.sqrt(0.5 + 1e-8), rtol=1e-12)
