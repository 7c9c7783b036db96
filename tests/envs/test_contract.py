"""The env contract, checked on every registered empg/* env."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import empg_gym
from tests.envs.contract import fuzz, trajectory

ENV_IDS = sorted(i for i in gym.registry if i.startswith("empg/"))
#: Fuzz steps per env; envs whose steps are costly (real search engines) use fewer in the default run.
FUZZ_STEPS: dict[str, int] = {"empg/WebShop-v0": 3_000}  # WebShop: spaCy tagging at each purchase
FUZZ_STEPS["empg/DeepSearch-v0"] = 1_000  # DeepSearch: 5-step episodes, so the test's action sampling dominates
#: Envs whose engine needs seconds per reset (alfworld's TextWorld): contract-tested only with the slow tests.
SLOW_ENVS = {"empg/ALFWorld-TW-v0"}
ENV_PARAMS = [pytest.param(i, marks=pytest.mark.slow) if i in SLOW_ENVS else i for i in ENV_IDS]


def make(env_id: str, **kwargs):
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        pytest.skip(f"{env_id}: {e}")


def test_every_env_is_listed():
    assert set(empg_gym.envs.DATA_STATUS) == set(ENV_IDS)
    assert {"empg/KeyDoor-v0", "empg/GuessNumber-v0"} <= set(ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_PARAMS)
def test_check_env_passes_without_warnings(env_id):
    env = make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", ENV_PARAMS)
def test_same_seed_same_actions_same_trajectory(env_id):
    a = trajectory(make(env_id), seed=3)
    b = trajectory(make(env_id), seed=3)
    assert json.dumps(a, sort_keys=True, default=repr) == json.dumps(b, sort_keys=True, default=repr)
    c = [trajectory(make(env_id), seed=s) for s in range(4, 12)]
    assert any(json.dumps(x, default=repr) != json.dumps(a, default=repr) for x in c), "seed has no effect"


@pytest.mark.parametrize("env_id", ENV_PARAMS)
def test_garbage_actions_never_raise(env_id):
    counts = fuzz(make(env_id), FUZZ_STEPS.get(env_id, 10_000))
    assert counts["invalid"] > 0 and counts["valid"] > 0


@pytest.mark.parametrize("env_id", ENV_PARAMS)
def test_reset_options_pick_the_task(env_id):
    env = make(env_id)
    _, info0 = env.reset(seed=0, options={"task_index": 0})
    _, info1 = env.reset(seed=123, options={"task_index": 0})
    assert info0["task_id"] == info1["task_id"]
    _, info2 = env.reset(seed=5, options={"task_id": info0["task_id"]})
    assert info2["task_id"] == info0["task_id"] and info2["task"] == info0["task"]
    with pytest.raises(ValueError, match="task"):
        env.reset(options={"task_id": "no-such-task-id"})


@pytest.mark.parametrize("env_id", ENV_PARAMS)
def test_make_with_module_prefix_in_a_fresh_process(env_id):
    import subprocess
    import sys

    code = f"import gymnasium as gym; e = gym.make('empg_gym:{env_id}'); print(e.spec.id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if "DependencyNotInstalled" in out.stderr:
        pytest.skip(out.stderr.strip().splitlines()[-1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == env_id
