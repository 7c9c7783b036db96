from functools import partial

import numpy as np
import pytest

from empg_gym.advantages.reinforce_pp import reinforce_pp as reinforce_pp_fn

from .util import batch, permuted

# The hand-computed cases here are the trajectory protocol's (one score per trajectory, penalties in the
# returns); the verl-agent protocol's are in test_protocol.py and test_verl_agent_parity.py.
reinforce_pp = partial(reinforce_pp_fn, protocol="trajectory")


def test_reinforce_pp_hand_computed():
    # gamma 0.5: returns-to-go [1/4, 1/2, 1] and [1]; whitened over the 4 steps: mean 11/16, deviations
    # [-7, -3, 5, 5] / 16, population std sqrt(108) / 32 = 3 sqrt(3) / 16, so A = [-7, -3, 5, 5] / (3 sqrt(3))
    b = batch([(0, [0, 0, 1]), (0, [1])])
    np.testing.assert_allclose(reinforce_pp(b, gamma=0.5), np.array([-7, -3, 5, 5]) / (3 * np.sqrt(3)), rtol=1e-7)


def test_gamma_one_and_group_baseline():
    # returns-to-go [1, 1] and [0]; group mean return 0.5 -> [0.5, 0.5, -0.5] -> whitened
    b = batch([(0, [0, 1]), (0, [0])])
    g = np.array([0.5, 0.5, -0.5])
    want = (g - g.mean()) / (g.std() + 1e-8)
    np.testing.assert_allclose(reinforce_pp(b, group_baseline=True), want)
    out = reinforce_pp(b)
    assert abs(out.mean()) < 1e-12 and abs(out.std() - 1) < 1e-6


def test_order_independent_and_validation():
    b = batch([(0, [0, 0, 1]), (1, [1, 2]), (0, [3])])
    perm = np.array([5, 0, 3, 1, 4, 2])
    np.testing.assert_allclose(reinforce_pp(permuted(b, perm), gamma=0.9), reinforce_pp(b, gamma=0.9)[perm])
    with pytest.raises(ValueError, match="gamma"):
        reinforce_pp(b, gamma=1.5)
