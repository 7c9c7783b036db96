"""The start policy builder: behaviour cloning in rounds, saved per round, resumed after a kill."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from safetensors.torch import load_file  # noqa: E402

from empg_gym.bench.start import build_start  # noqa: E402
from empg_gym.bench.suite import StartSpec  # noqa: E402

ENV = "empg/KeyDoor-v0"
TRAIN = {"env_kwargs": {"size": 2, "num_tasks": 4}, "max_steps": 2, "history_length": 1, "max_new_tokens": 8,
         "response_prefix": "<think>ok</think><action>"}
SPEC = dict(hidden_size=16, num_layers=1, num_heads=2, vocab_size=300, tokenizer_episodes=2, bc_episodes=4,
            bc_tasks=4, bc_steps=3, bc_batch_size=4, expert_prob=1.0)


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_rounds_are_fresh_draws_continued_on_one_model(tmp_path):
    """Two rounds equal one round followed by behaviour cloning on the next seed's draw (what a round is)."""
    from empg_gym.policy.hf import load_model_and_tokenizer
    from empg_gym.trainers.sft import behaviour_clone

    torch.set_num_threads(1)
    two = build_start(tmp_path / "two", ENV, TRAIN, StartSpec(**SPEC, bc_rounds=2), name="s")
    one = build_start(tmp_path / "one", ENV, TRAIN, StartSpec(**SPEC, bc_rounds=1), name="s")
    model, tok = load_model_and_tokenizer(str(one), device="cpu", dtype="float32")
    behaviour_clone(model, tok, ENV, episodes=4, env_kwargs=TRAIN["env_kwargs"], max_steps=2, expert_prob=1.0,
                    think="ok", steps=3, batch_size=4, lr=2e-3, seed=2, history_length=1, num_tasks=4,
                    response_prefix=TRAIN["response_prefix"])
    got = _weights(two)
    for k, v in model.state_dict().items():
        if k in got:
            torch.testing.assert_close(got[k], v, rtol=0, atol=1e-6)
    info = json.loads((two / "start.json").read_text())
    assert len(info["bc"]["rounds"]) == 2 and info["spec"]["bc_rounds"] == 2
    assert not (tmp_path / ".two.rounds").exists()  # round files are removed once the start is complete
    assert any(not torch.equal(got[k], _weights(one)[k]) for k in got)


def test_a_killed_build_resumes_from_its_last_round(tmp_path):
    torch.set_num_threads(1)
    straight = build_start(tmp_path / "a", ENV, TRAIN, StartSpec(**SPEC, bc_rounds=3), name="s")
    # a build of the same start killed after round 2: its round files are on disk, the folder is not
    # (round r's file holds the weights after r rounds, i.e. those of an r-round start)
    from safetensors.torch import save_file

    rounds = tmp_path / ".b.rounds"
    rounds.mkdir()
    two = build_start(tmp_path / "two", ENV, TRAIN, StartSpec(**SPEC, bc_rounds=2), name="s")
    one = build_start(tmp_path / "one", ENV, TRAIN, StartSpec(**SPEC, bc_rounds=1), name="s")
    save_file(_weights(one), str(rounds / "round_1.safetensors"))
    save_file(_weights(two), str(rounds / "round_2.safetensors"))
    stats = json.loads((two / "start.json").read_text())["bc"]["rounds"]
    (rounds / "stats.json").write_text(json.dumps(stats))
    resumed = build_start(tmp_path / "b", ENV, TRAIN, StartSpec(**SPEC, bc_rounds=3), name="s")
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((resumed / "start.json").read_text())["bc"]["rounds"][:2] == stats
    assert not rounds.exists()


def test_start_env_kwargs_override_the_runs_env_kwargs(tmp_path):
    """``start.env_kwargs`` set: the start clones that env, whatever the RL runs train on."""
    torch.set_num_threads(1)
    other = {**TRAIN, "env_kwargs": {"size": 3, "num_tasks": 4}}  # the RL runs' env
    plain = build_start(tmp_path / "plain", ENV, TRAIN, StartSpec(**SPEC), name="s")
    over = build_start(tmp_path / "over", ENV, other, StartSpec(**SPEC, env_kwargs=TRAIN["env_kwargs"]), name="s")
    on_other = build_start(tmp_path / "other", ENV, other, StartSpec(**SPEC), name="s")
    a, b, c = _weights(plain), _weights(over), _weights(on_other)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(a[k].shape != c[k].shape or not torch.equal(a[k], c[k]) for k in a)
    assert json.loads((over / "start.json").read_text())["spec"]["env_kwargs"] == TRAIN["env_kwargs"]


def test_fresh_tasks_clone_each_round_on_the_next_tasks(tmp_path):
    """``bc_fresh_tasks``: round 2 clones on tasks 4..7 (of an 8-task env), not on tasks 0..3 again."""
    from empg_gym.policy.hf import load_model_and_tokenizer
    from empg_gym.trainers.sft import behaviour_clone

    torch.set_num_threads(1)
    train = {**TRAIN, "env_kwargs": {"size": 2, "num_tasks": 8}}
    fresh = build_start(tmp_path / "fresh", ENV, train, StartSpec(**SPEC, bc_rounds=2, bc_fresh_tasks=True), name="s")
    same = build_start(tmp_path / "same", ENV, train, StartSpec(**SPEC, bc_rounds=2), name="s")
    one = build_start(tmp_path / "one", ENV, train, StartSpec(**SPEC, bc_rounds=1, bc_fresh_tasks=True), name="s")
    model, tok = load_model_and_tokenizer(str(one), device="cpu", dtype="float32")
    behaviour_clone(model, tok, ENV, episodes=4, env_kwargs=train["env_kwargs"], max_steps=2, expert_prob=1.0,
                    think="ok", steps=3, batch_size=4, lr=2e-3, seed=2, history_length=1, num_tasks=4,
                    task_offset=4, response_prefix=TRAIN["response_prefix"])
    got, other = _weights(fresh), _weights(same)
    for k, v in model.state_dict().items():
        if k in got:
            torch.testing.assert_close(got[k], v, rtol=0, atol=1e-6)
    assert any(not torch.equal(got[k], other[k]) for k in got)
    assert json.loads((fresh / "start.json").read_text())["spec"]["bc_fresh_tasks"] is True


def test_fresh_tasks_beyond_the_train_split_are_a_clear_error(tmp_path):
    torch.set_num_threads(1)
    with pytest.raises(ValueError, match=r"bc_fresh_tasks: BC round 2 of 2 clones on train tasks 4..7, which this env"):
        build_start(tmp_path / "s", ENV, TRAIN, StartSpec(**SPEC, bc_rounds=2, bc_fresh_tasks=True), name="s")
    with pytest.raises(ValueError, match="bc_fresh_tasks must be true or false"):
        StartSpec(**SPEC, bc_fresh_tasks="yes")
