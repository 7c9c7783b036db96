"""UnicodeText: any string is in the space, flattening and the vector envs keep every character."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.spaces.utils import flatten, flatten_space, unflatten
from gymnasium.utils.env_checker import check_env

from empg_gym.spaces import PAD, UnicodeText, clip, text_space

SAMPLES = [
    "",
    "plain ASCII, with punctuation!",
    "Caf\u00e9 \u201cna\u00efve\u201d \u2013 d\u00e9j\u00e0 vu",
    "\uc11c\uc6b8\uc740 \ud55c\uad6d\uc758 \uc218\ub3c4\uc774\ub2e4",  # Korean
    "\u6771\u4eac \u6f22\u5b57 \U0001f642 \u0000 tab\tnewline\n",
    "lone surrogate \ud800 kept",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_contains_any_string_and_flatten_round_trips(text):
    space = text_space(64)
    assert space.contains(text) and text in space
    flat = flatten(space, text)
    assert flat.dtype == np.int32 and flat.shape == (64,)
    assert flat[len(text) :].tolist() == [PAD] * (64 - len(text))
    assert [int(v) for v in flat[: len(text)]] == [ord(c) for c in text]
    assert unflatten(space, flat) == text
    assert flatten_space(space).contains(flat)


def test_length_bounds_type_and_equality():
    space = UnicodeText(5, min_length=1)
    assert not space.contains("")
    assert space.contains("\u00e9" * 5) and not space.contains("\u00e9" * 6)
    assert not space.contains(b"abc") and not space.contains(None)
    assert space == UnicodeText(5, min_length=1) and space != UnicodeText(6, min_length=1)
    assert space != gym.spaces.Text(5, min_length=1)
    assert repr(space) == "UnicodeText(1, 5)"
    space.seed(0)
    assert all(space.contains(space.sample()) for _ in range(20))


def test_clip_cuts_without_rewriting():
    assert clip("d\u00e9j\u00e0 vu", 4) == "d\u00e9j\u00e0"
    assert clip("\ud55c\uad6d\uc5b4", 10) == "\ud55c\uad6d\uc5b4"


class EchoEnv(gym.Env):
    """Observations cycle through SAMPLES; used to check the checker and the vector envs."""

    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = text_space(256)
        self.action_space = text_space(32)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return SAMPLES[0], {}

    def step(self, action):
        self.t += 1
        return SAMPLES[self.t % len(SAMPLES)], 0.0, self.t >= 2 * len(SAMPLES), False, {}


def test_check_env_accepts_unicode_observations_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(EchoEnv(), skip_render_check=True)
        env = gym.wrappers.PassiveEnvChecker(EchoEnv())
        env.reset(seed=0)
        for _ in range(len(SAMPLES)):
            env.step("x")


def _vector_obs(vec) -> list[tuple[str, ...]]:
    out = [tuple(vec.reset(seed=0)[0])]
    for _ in range(len(SAMPLES) - 1):
        out.append(tuple(vec.step(("a", "b"))[0]))
    vec.close()
    return out


def test_sync_vector_env_keeps_unicode():
    got = _vector_obs(gym.vector.SyncVectorEnv([EchoEnv, EchoEnv]))
    assert got == [(s, s) for s in SAMPLES]


@pytest.mark.slow
def test_async_vector_env_keeps_unicode_without_shared_memory():
    got = _vector_obs(gym.vector.AsyncVectorEnv([EchoEnv, EchoEnv], shared_memory=False))
    assert got == [(s, s) for s in SAMPLES]


def test_async_vector_env_with_shared_memory_says_what_to_do():
    with pytest.raises(ValueError, match="shared_memory=False") as e:
        gym.vector.AsyncVectorEnv([EchoEnv, EchoEnv], shared_memory=True)
    assert "shared_memory=False" in str(e.value.__cause__)
