"""Suite files: the shipped ones load, malformed ones fail naming the file and key, fairness is enforced."""

from __future__ import annotations

import pytest
import yaml

from empg_gym.bench.suite import SuiteError, builtin_suites, load_suite

BASE = {
    "name": "t",
    "seeds": [0, 1],
    "methods": {
        "grpo": {"estimator": "grpo"},
        "empg": {"estimator": "empg", "estimator_kwargs": {"base": "grpo"}},
    },
    "train": {"iterations": 3, "lr": 1e-4},
    "envs": {
        "guess": {"env_id": "empg/GuessNumber-v0", "train": {"task_pool": 4}, "eval": [{"split": "test"}]}
    },
}


def write(tmp_path, d):
    p = tmp_path / "suite.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


@pytest.mark.parametrize("name", builtin_suites())
def test_builtin_suites_load(name):
    s = load_suite(name)
    assert s.methods and s.envs and s.seeds
    assert s.baseline in s.methods


def test_builtin_names():
    assert {"smoke", "cpu"} <= set(builtin_suites())


def test_env_by_name_and_the_cpu_alfworld_family():
    s = load_suite("cpu")
    alf = s.env("alfworld")
    assert alf.env_id == "empg/ALFWorld-v0" and [e.split for e in alf.evals] == ["valid_unseen", "valid_seen"]
    # RL on the look and pick types; the start clones all six
    assert s.train_fields(alf, "grpo")["env_kwargs"]["task_types"] == ["look_at_obj_in_light",
                                                                     "pick_and_place_simple"]
    assert alf.start.env_kwargs == {"split": "train", "expert": "search"}
    with pytest.raises(ValueError, match=r"env 'alfwrld' is not in suite cpu \(envs: \['alfworld'"):
        s.env("alfwrld")


def test_merge_order_and_runs(tmp_path):
    s = load_suite(write(tmp_path, BASE))
    env = s.envs[0]
    f = s.train_fields(env, "empg")
    assert f["lr"] == 1e-4 and f["task_pool"] == 4 and f["env_id"] == "empg/GuessNumber-v0"
    assert f["estimator"] == "empg" and f["estimator_kwargs"] == {"base": "grpo"}
    assert s.train_fields(env, "grpo")["estimator"] == "grpo"
    # seed-major inside an env: a partial benchmark has whole seeds of every method
    assert [(e.name, m, sd) for e, m, sd in s.runs()] == [
        ("guess", "grpo", 0),
        ("guess", "empg", 0),
        ("guess", "grpo", 1),
        ("guess", "empg", 1),
    ]
    assert s.baseline == "grpo"


@pytest.mark.parametrize(
    "patch, needle",
    [
        ({"methods": {"grpo": {"estimator": "grpo", "lr": 1e-3}}}, "methods.grpo sets ['lr']"),
        ({"train": {"seed": 3}}, "train.seed is set by the runner"),
        ({"train": {"bogus": 1}}, "bogus"),
        ({"seeds": [0, 0]}, "distinct"),
        ({"methods": {}}, "methods is empty"),
        ({"methods": {"grpo": {"estimator": "nope"}}}, "env guess, method grpo"),
        ({"baseline": "ppo"}, "baseline 'ppo'"),
        (
            {"envs": {"guess": {"env_id": "empg/GuessNumber-v0", "eval": [{"split": "nosuch"}]}}},
            "envs.guess.eval[0]",
        ),
        (
            {"envs": {"guess": {"env_id": "empg/GuessNumber-v0", "train": {"estimator": "grpo"}}}},
            "method-defining",
        ),
        (
            {
                "envs": {
                    "guess": {"env_id": "empg/GuessNumber-v0", "start": {"hidden_size": 30, "num_heads": 4}}
                }
            },
            "divisible",
        ),
        ({"extra_key": 1}, "unknown top-level key"),
        (
            {"envs": {"guess": {"env_id": "empg/GuessNumber-v0", "methods": ["grpo", "ppo"]}}},
            "envs.guess.methods: ['ppo'] not among",
        ),
        (
            {"envs": {"guess": {"env_id": "empg/GuessNumber-v0", "methods": ["empg"]}}},
            "must include the baseline 'grpo'",
        ),
    ],
)
def test_bad_suites_name_the_problem(tmp_path, patch, needle):
    d = {**BASE, **patch}
    with pytest.raises(SuiteError) as e:
        load_suite(write(tmp_path, d))
    assert needle in str(e.value)
    assert "suite.yaml" in str(e.value)


def test_env_methods_run_a_subset_on_one_family(tmp_path):
    d = {**BASE, "methods": {**BASE["methods"], "empg_g": {"estimator": "empg",
                                                          "estimator_kwargs": {"base": "grpo", "ablation": "g_only"}}}}
    d["envs"] = {**BASE["envs"], "key": {"env_id": "empg/KeyDoor-v0", "methods": ["grpo", "empg"]}}
    s = load_suite(write(tmp_path, d))
    runs = [(e.name, m, sd) for e, m, sd in s.runs() if sd == 0]
    assert runs == [("guess", "grpo", 0), ("guess", "empg", 0), ("guess", "empg_g", 0),
                    ("key", "grpo", 0), ("key", "empg", 0)]


def test_unknown_suite_lists_builtins():
    with pytest.raises(SuiteError, match="built-in suites: .*smoke"):
        load_suite("no-such-suite")


def test_bench_cli_reports_bad_suite(tmp_path, capsys):
    from empg_gym.bench.cli import main

    p = write(tmp_path, {**BASE, "train": {"seed": 1}})
    assert main(["status", "--suite", str(p)]) == 2
    assert "train.seed is set by the runner" in capsys.readouterr().err


def test_status_of_empty_results(tmp_path, capsys):
    from empg_gym.bench.cli import main

    p = write(tmp_path, BASE)
    assert main(["status", "--suite", str(p), "--results", str(tmp_path / "res")]) == 0
    out = capsys.readouterr().out
    assert out.count(" pending ") == 4 and out.strip().endswith("pending: 4")


def test_results_folder_of_another_suite_is_refused(tmp_path, capsys):
    from empg_gym.bench.cli import main

    res = tmp_path / "res"
    res.mkdir()
    (res / "suite.yaml").write_text(yaml.safe_dump({"name": "other", "seeds": [7]}))
    assert main(["run", "--suite", "smoke", "--results", str(res), "--no-progress"]) == 2
    assert "different suite" in capsys.readouterr().err


def _suite_with(tmp_path, d, name="s.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return load_suite(p)


def test_family_without_results_may_change_next_to_finished_ones(tmp_path):
    from empg_gym.bench.runner import _check_suite

    res = tmp_path / "res"
    key = {"env_id": "empg/KeyDoor-v0", "train": {"task_pool": 4}, "eval": [{"split": "test"}]}
    two = {**BASE, "envs": {**BASE["envs"], "key": key}}
    _check_suite(_suite_with(tmp_path, two), res)
    (res / "starts" / "guess").mkdir(parents=True)  # guess has results, key has none
    changed = {**two, "description": "new words", "envs": {**two["envs"], "key": {**key, "train": {"task_pool": 8}}}}
    _check_suite(_suite_with(tmp_path, changed), res)
    assert yaml.safe_load((res / "suite.yaml").read_text())["envs"]["key"]["train"] == {"task_pool": 8}


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda d: {**d, "envs": {"guess": {**d["envs"]["guess"], "train": {"task_pool": 9}}}}, "envs.guess"),
        (lambda d: {**d, "train": {**d["train"], "lr": 1e-3}}, "train"),
        (lambda d: {**d, "seeds": [0, 1, 2]}, "seeds"),
    ],
)
def test_change_touching_existing_results_is_refused(tmp_path, change, named):
    from empg_gym.bench.runner import SuiteMismatch, _check_suite

    res = tmp_path / "res"
    _check_suite(_suite_with(tmp_path, BASE), res)
    (res / "runs" / "guess").mkdir(parents=True)
    before = (res / "suite.yaml").read_text()
    with pytest.raises(SuiteMismatch, match=rf"differs in: {named}\)"):
        _check_suite(_suite_with(tmp_path, change(BASE), "t2.yaml"), res)
    assert (res / "suite.yaml").read_text() == before


def test_method_may_be_added_next_to_runs_but_not_changed(tmp_path):
    from empg_gym.bench.runner import SuiteMismatch, _check_suite

    res = tmp_path / "res"
    _check_suite(_suite_with(tmp_path, BASE), res)
    (res / "runs" / "guess" / "grpo").mkdir(parents=True)
    more = {**BASE, "methods": {**BASE["methods"], "rloo": {"estimator": "rloo"}}}
    _check_suite(_suite_with(tmp_path, more, "t2.yaml"), res)
    assert "rloo" in yaml.safe_load((res / "suite.yaml").read_text())["methods"]
    # empg has no run yet, so it may still change; grpo has one, so it may not
    _check_suite(_suite_with(tmp_path, {**more, "methods": {**more["methods"], "empg": {"estimator": "empg"}}}), res)
    changed = _suite_with(tmp_path, {**more, "methods": {**more["methods"], "grpo": {"estimator": "rloo"}}})
    with pytest.raises(SuiteMismatch, match=r"differs in: methods\.grpo\)"):
        _check_suite(changed, res)


def test_family_with_runs_may_change_only_its_list_of_methods(tmp_path):
    from empg_gym.bench.runner import SuiteMismatch, _check_suite

    res = tmp_path / "res"
    listed = {**BASE, "envs": {"guess": {**BASE["envs"]["guess"], "methods": ["grpo"]}}}
    _check_suite(_suite_with(tmp_path, listed), res)
    (res / "runs" / "guess" / "grpo").mkdir(parents=True)
    _check_suite(_suite_with(tmp_path, BASE, "t2.yaml"), res)  # the list grows to both methods
    other = {**BASE, "envs": {"guess": {**BASE["envs"]["guess"], "train": {"task_pool": 3}}}}
    with pytest.raises(SuiteMismatch, match=r"differs in: envs\.guess\)"):
        _check_suite(_suite_with(tmp_path, other), res)


@pytest.mark.parametrize(
    "train, start, refused",
    [
        ({"task_pool": 9, "iterations": 7}, None, False),  # RL-only fields: the start is reused
        ({"task_pool": 4, "history_length": 4}, None, True),  # the start's prompts change
        ({"task_pool": 4, "temperature": 0.5}, None, True),  # the start's agent.yaml changes
        ({"task_pool": 4}, {"bc_steps": 9}, True),
        ({"task_pool": 4, "env_kwargs": {"max_secret": 20}}, None, True),  # the start clones these kwargs
        ({"task_pool": 4, "env_kwargs": {"max_secret": 20}}, {"env_kwargs": {}}, False),  # ... unless its own
    ],
)
def test_family_with_a_start_and_no_runs_may_change_what_the_start_does_not_read(tmp_path, train, start, refused):
    from empg_gym.bench.runner import SuiteMismatch, _check_suite

    res = tmp_path / "res"
    guess = dict(BASE["envs"]["guess"])
    if start and "env_kwargs" in start:
        guess["start"] = {"env_kwargs": start["env_kwargs"]}
        start = None
    first = {**BASE, "envs": {"guess": guess}}
    _check_suite(_suite_with(tmp_path, first), res)
    (res / "starts" / "guess").mkdir(parents=True)
    sec = {**guess, "train": train}
    if start:
        sec["start"] = {**guess.get("start", {}), **start}
    changed = _suite_with(tmp_path, {**first, "envs": {"guess": sec}}, "t2.yaml")
    if refused:
        with pytest.raises(SuiteMismatch, match=r"envs\.guess \(its start\)"):
            _check_suite(changed, res)
    else:
        _check_suite(changed, res)
        assert yaml.safe_load((res / "suite.yaml").read_text())["envs"]["guess"]["train"] == train


def test_start_inputs_of_a_suite_this_version_rejects_compare_as_different(tmp_path):
    from empg_gym.bench.runner import SuiteMismatch, _check_suite

    res = tmp_path / "res"
    _check_suite(_suite_with(tmp_path, BASE), res)
    (res / "starts" / "guess").mkdir(parents=True)
    saved = yaml.safe_load((res / "suite.yaml").read_text())
    saved["envs"]["guess"]["train"] = {"task_pool": 4, "temperature": -1.0}  # invalid today
    (res / "suite.yaml").write_text(yaml.safe_dump(saved))
    with pytest.raises(SuiteMismatch, match=r"envs\.guess \(its start\)"):
        _check_suite(_suite_with(tmp_path, BASE, "t2.yaml"), res)


def test_run_filters_select_env_method_and_seeds():
    from empg_gym.bench.runner import select_runs

    s = load_suite("cpu")
    envs, runs = select_runs(s, "alfworld", "grpo", [1, 3])
    assert [e.name for e in envs] == ["alfworld"]
    assert [(e.name, m, sd) for e, m, sd in runs] == [("alfworld", "grpo", 1), ("alfworld", "grpo", 3)]
    _, everything = select_runs(s)
    assert len(everything) == len(list(s.runs()))
    for bad, needle in (({"only_seeds": [9]}, "--seed [9] not in the suite (seeds: [0, 1, 2, 3, 4])"),
                        ({"only_env": "mars"}, "--env 'mars' is not in the suite"),
                        ({"only_method": "a2c"}, "--method 'a2c' is not in the suite")):
        with pytest.raises(ValueError) as e:
            select_runs(s, **bad)
        assert needle in str(e.value)


def test_bench_cli_names_an_unknown_seed(tmp_path, capsys):
    from empg_gym.bench.cli import main

    assert main(["run", "--suite", "smoke", "--results", str(tmp_path / "r"), "--seed", "5", "--no-progress"]) == 2
    assert "--seed [5] not in the suite (seeds: [0])" in capsys.readouterr().err
