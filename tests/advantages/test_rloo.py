from functools import partial

import numpy as np

from empg_gym.advantages.grpo import grpo as grpo_fn
from empg_gym.advantages.rloo import rloo as rloo_fn

from .util import batch

# The hand-computed cases here are the trajectory protocol's (one score per trajectory, penalties in the
# returns); the verl-agent protocol's are in test_protocol.py and test_verl_agent_parity.py.
rloo = partial(rloo_fn, protocol="trajectory")
grpo = partial(grpo_fn, protocol="trajectory")


def test_rloo_hand_computed():
    # group 0 returns 1, 0, 0, 3: 1 - 1 = 0; 0 - 4/3; 0 - 4/3; 3 - 1/3. group 1: one trajectory -> 0
    b = batch([(0, [1]), (0, [0, 0]), (0, [0]), (0, [1, 2]), (1, [7])])
    np.testing.assert_allclose(rloo(b), [0, -4 / 3, -4 / 3, -4 / 3, 8 / 3, 8 / 3, 0], atol=1e-12)


def test_rloo_equals_scaled_dr_grpo_and_zero_mean():
    rng = np.random.default_rng(0)
    b = batch([(g, rng.normal(size=2)) for g in range(3) for _ in range(4)])
    np.testing.assert_allclose(rloo(b), 4 / 3 * grpo(b, scale_std=False))
    first = b.step == 0
    for g in range(3):
        assert abs(rloo(b)[first & (b.group_id == g)].sum()) < 1e-12
