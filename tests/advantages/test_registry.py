import numpy as np
import pytest

from empg_gym import advantages
from empg_gym.types import StepBatch

from .util import batch


def test_builtins_registered():
    assert set(advantages.list_estimators()) >= {"grpo", "dapo", "rloo", "reinforce_pp", "gigpo", "gae", "empg"}


def test_names_match_modules():
    for name in advantages.list_estimators():
        fn = advantages.get(name)
        if name == "dapo":  # documented alias of grpo
            assert fn is advantages.get("grpo")
            continue
        assert fn.__module__ == f"empg_gym.advantages.{name}"
        assert fn.__name__ == name
        assert fn.__doc__


def test_unknown_name_lists_known():
    with pytest.raises(KeyError, match="known: .*grpo"):
        advantages.get("nope")


def test_duplicate_registration_rejected():
    with pytest.raises(ValueError, match="already registered"):
        advantages.register("grpo")(lambda b: np.zeros(len(b)))


def test_signature_defaults_and_kwarg_check():
    assert advantages.signature_defaults("grpo") == {"scale_std": True, "leave_one_out": False, "eps": 1e-6,
                                                     "protocol": "verl-agent", "singleton": None}
    advantages.check_kwargs("empg", {"zeta": 0.05})
    with pytest.raises(ValueError, match="no hyperparameter"):
        advantages.check_kwargs("grpo", {"zeta": 0.05})


@pytest.mark.parametrize("name", ["grpo", "dapo", "rloo", "reinforce_pp", "gigpo", "gae", "empg"])
def test_every_estimator_shape_and_nan_rejection(name):
    b = batch([(0, [0, 1], [1, 2]), (0, [0], [3]), (1, [1, 0, 0], [0.5, 0.1, 0.2])],
              values=[[0.1, 0.2], [0.3], [0.4, 0.5, 0.6]], anchors=[["a", "b"], ["a"], ["c", "d", "e"]])
    out = advantages.get(name)(b)
    assert out.shape == (6,) and np.all(np.isfinite(out))
    bad = StepBatch(b.traj_id, b.step, b.group_id, np.array([0, np.nan, 0, 1, 0, 0.0]), b.terminated,
                    b.truncated, b.entropy, b.value, b.anchor)
    with pytest.raises(ValueError, match="reward has 1 non-finite"):
        advantages.get(name)(bad)


@pytest.mark.parametrize("name", ["grpo", "rloo", "reinforce_pp", "gigpo", "empg"])
def test_empty_batch(name):
    b = batch([], anchors=[])
    assert advantages.get(name)(b).shape == (0,)


def test_cli_lists_estimators(capsys):
    import json

    from empg_gym.cli import main

    assert main(["advantages", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(advantages.list_estimators())
