from functools import partial

import numpy as np
import pytest

from empg_gym.advantages.gae import gae as gae_fn
from empg_gym.types import StepBatch

from .util import batch, permuted

# The hand-computed cases here are the trajectory protocol's (one score per trajectory, penalties in the
# returns); the verl-agent protocol's are in test_protocol.py and test_verl_agent_parity.py.
gae = partial(gae_fn, protocol="trajectory")


def _truncate_last(b: StepBatch, traj: int) -> StepBatch:
    last = np.flatnonzero(b.traj_id == traj)[-1]
    term, trunc = b.terminated.copy(), b.truncated.copy()
    term[last], trunc[last] = False, True
    return StepBatch(b.traj_id, b.step, b.group_id, b.reward, term, trunc, b.entropy, b.value, b.anchor)


def test_gae_hand_computed():
    # terminated: delta1 = 1 - 0.8 = 0.2; delta0 = 0.9 * 0.8 - 0.5 = 0.22; A0 = 0.22 + 0.9 * 0.5 * 0.2 = 0.31
    # truncated one-step trajectory, value 0.4: bootstrap -> 0.9 * 0.4 - 0.4 = -0.04; no bootstrap -> -0.4
    b = _truncate_last(batch([(0, [0, 1]), (0, [0])], values=[[0.5, 0.8], [0.4]]), 1)
    np.testing.assert_allclose(gae(b, gamma=0.9, lam=0.5), [0.31, 0.2, -0.04], atol=1e-12)
    np.testing.assert_allclose(gae(b, gamma=0.9, lam=0.5, bootstrap_truncated=False), [0.31, 0.2, -0.4],
                               atol=1e-12)


def test_gae_lambda_one_is_return_minus_value():
    b = batch([(0, [1, 2, 3]), (1, [4, 5])], values=[[1, 1, 1], [2, 2]])
    np.testing.assert_allclose(gae(b, gamma=1.0, lam=1.0), [5, 4, 2, 7, 3])
    out = gae(b, gamma=1.0, lam=1.0, whiten=True)
    assert abs(out.mean()) < 1e-12
    perm = np.array([4, 2, 0, 3, 1])
    np.testing.assert_allclose(gae(permuted(b, perm), gamma=0.9), gae(b, gamma=0.9)[perm])


def test_gae_needs_values():
    with pytest.raises(ValueError, match="value is None"):
        gae(batch([(0, [1])]))
    with pytest.raises(ValueError, match="value has 1 non-finite"):
        gae(batch([(0, [1])], values=[[np.inf]]))
