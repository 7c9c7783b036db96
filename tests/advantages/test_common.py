import numpy as np
import pytest

from empg_gym.advantages._common import dense, discounted_returns, next_in_trajectory, order_by_step

from .util import batch, permuted


def _naive(b, gamma):
    out = np.zeros(len(b))
    for t in np.unique(b.traj_id):
        idx = np.flatnonzero(b.traj_id == t)
        idx = idx[np.argsort(b.step[idx])]
        g = 0.0
        for i in idx[::-1]:
            g = b.reward[i] + gamma * g
            out[i] = g
    return out


@pytest.mark.parametrize("gamma", [1.0, 0.9, 0.0])
def test_discounted_returns_match_naive(gamma):
    rng = np.random.default_rng(0)
    b = batch([(g, rng.normal(size=rng.integers(1, 6))) for g in range(4) for _ in range(3)])
    perm = rng.permutation(len(b))
    pb = permuted(b, perm)
    np.testing.assert_allclose(discounted_returns(b, b.reward, gamma), _naive(b, gamma), atol=1e-12)
    np.testing.assert_allclose(discounted_returns(pb, pb.reward, gamma), _naive(pb, gamma), atol=1e-12)


def test_next_in_trajectory_and_order():
    b = batch([(0, [0, 0, 1]), (0, [1])])
    nxt, has = next_in_trajectory(b)
    assert has.tolist() == [True, True, False, False] and nxt[:2].tolist() == [1, 2]
    assert order_by_step(b) is None
    pb = permuted(b, np.array([3, 2, 0, 1]))  # steps: (1,0) (0,2) (0,0) (0,1)
    nxt, has = next_in_trajectory(pb)
    assert has.tolist() == [False, False, True, True] and nxt[2] == 3 and nxt[3] == 1
    bad = batch([(0, [0, 0])])
    bad.step[1] = 5
    with pytest.raises(ValueError, match="0, 1, ..., n-1"):
        order_by_step(bad)


def test_dense_ids():
    inv, k = dense(np.array([7, 3, 7, 1000000000]))
    assert k == 3 and inv.tolist() == [1, 0, 1, 2]
    inv, k = dense(np.array([5, 5, 2]))
    assert k == 2 and inv.tolist() == [1, 1, 0]
