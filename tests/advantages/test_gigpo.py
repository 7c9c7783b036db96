from functools import partial

import numpy as np
import pytest

from empg_gym.advantages.gigpo import gigpo as gigpo_fn

from .util import batch

# The hand-computed cases here are the trajectory protocol's (one score per trajectory, penalties in the
# returns); the verl-agent protocol's are in test_protocol.py and test_verl_agent_parity.py.
gigpo = partial(gigpo_fn, protocol="trajectory")


def test_gigpo_hand_computed():
    # group 0: A (s0, s1) rewards (0, 1); B (s0, s2, s1) rewards (0, 0, 1); C (s0, s2) rewards (0, 0).
    # group 1: D (s0) reward 1 -- same anchor text as group 0's s0 but must not be mixed in.
    b = batch([(0, [0, 1]), (0, [0, 0, 1]), (0, [0, 0]), (1, [1])],
              anchors=[["s0", "s1"], ["s0", "s2", "s1"], ["s0", "s2"], ["s0"]])
    # episode: returns 1, 1, 0 -> mean 2/3 -> 1/3, 1/3, -2/3; D alone -> 0
    # step (gamma 0.5): A (0.5, 1), B (0.25, 0.5, 1), C (0, 0)
    #   s0 {0.5, 0.25, 0} mean 0.25 -> +0.25, 0, -0.25; s2 {0.5, 0} -> +0.25, -0.25; s1 {1, 1} -> 0; D -> 0
    want = [1 / 3 + 0.25, 1 / 3, 1 / 3, 1 / 3 + 0.25, 1 / 3, -2 / 3 - 0.25, -2 / 3 - 0.25, 0]
    np.testing.assert_allclose(gigpo(b, gamma=0.5, norm="none"), want, atol=1e-12)
    # omega scales only the step part
    step_part = np.array([0.25, 0, 0, 0.25, 0, -0.25, -0.25, 0])
    np.testing.assert_allclose(gigpo(b, gamma=0.5, norm="none", omega=2.0), np.array(want) + step_part,
                               atol=1e-12)


def test_gigpo_std_norm():
    # two trajectories, identical anchors: step groups {0.5, 0} at s0 and {1, 0} at s1 (gamma 0.5)
    b = batch([(0, [0, 1]), (0, [0, 0])], anchors=[["s0", "s1"], ["s0", "s1"]])
    s_ep = np.std([1, 0], ddof=1)
    s0, s1 = np.std([0.5, 0], ddof=1), np.std([1, 0], ddof=1)
    e = 1e-6
    want = [0.5 / (s_ep + e) + 0.25 / (s0 + e), 0.5 / (s_ep + e) + 0.5 / (s1 + e),
            -0.5 / (s_ep + e) - 0.25 / (s0 + e), -0.5 / (s_ep + e) - 0.5 / (s1 + e)]
    np.testing.assert_allclose(gigpo(b, gamma=0.5), want)


def test_gigpo_needs_anchor_and_valid_norm():
    b = batch([(0, [1])])
    with pytest.raises(ValueError, match="anchor"):
        gigpo(b)
    b = batch([(0, [1])], anchors=[["x"]])
    with pytest.raises(ValueError, match="norm"):
        gigpo(b, norm="l2")
