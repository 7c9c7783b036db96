"""End-to-end: the shared trainer on a toy env with a tiny random model (CPU)."""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("empg_gym.policy.hf")

from safetensors.torch import load_file  # noqa: E402

from empg_gym.trainers import train  # noqa: E402
from empg_gym.trainers.config import TrainConfig  # noqa: E402
from empg_gym.trainers.pg import PGTrainer  # noqa: E402

FAST = dict(env_id="empg/KeyDoor-v0", env_kwargs={"size": 2, "num_tasks": 4}, task_pool=4, max_steps=2,
            model="tiny:qwen2", group_size=2, groups_per_batch=2, max_new_tokens=6, history_length=0, lr=1e-3,
            minibatch_size=4, micro_batch_size=2, save_every=2, device="cpu", progress=False, torch_threads=1,
            invalid_penalty=0.1)


def _cfg(tmp_path, name="run", **kw):
    return TrainConfig(**{**FAST, "output_dir": str(tmp_path / name), **kw})


def _weights(run_dir, it):
    return load_file(str(run_dir / "checkpoints" / f"iter_{it:06d}" / "model.safetensors"))


def test_resume_is_exact(tmp_path):
    cfg = _cfg(tmp_path, "straight", iterations=4, estimator="empg")
    straight = train(cfg)
    cfg2 = _cfg(tmp_path, "killed", iterations=4, estimator="empg")
    killed = train(cfg2, stop_after=2)  # "killed" right after the iteration-2 checkpoint
    assert (killed / "latest").read_text().strip() == "checkpoints/iter_000002"
    assert len((killed / "metrics.jsonl").read_text().splitlines()) == 2
    resumed = PGTrainer(TrainConfig(**{**cfg2.__dict__, "resume": True}))
    resumed.train()
    assert resumed.start_iteration == 2
    a, b = _weights(straight, 4), _weights(killed, 4)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows_a = [json.loads(x) for x in (straight / "metrics.jsonl").read_text().splitlines()]
    rows_b = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows_b] == [0, 1, 2, 3]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert ra["train_return"] == rb["train_return"] and ra["loss"] == rb["loss"]


def test_refuses_to_overwrite_a_run(tmp_path):
    train(_cfg(tmp_path, iterations=2, estimator="grpo"))
    with pytest.raises(FileExistsError, match="--resume"):
        train(_cfg(tmp_path, iterations=2, estimator="grpo"))


def _run_and_check(tmp_path, **kw):
    from empg_gym.policy import load_agent
    from empg_gym.policy.tiny import tiny_model_and_tokenizer
    from empg_gym.rollout import collect

    run = train(_cfg(tmp_path, iterations=2, **kw))
    if kw.get("model", "tiny:qwen2") == "tiny:qwen2":
        init, _ = tiny_model_and_tokenizer(seed=0)
        init_sd = init.state_dict()
    else:
        init_sd = load_file(str(Path(kw["model"]) / "model.safetensors"))
    trained = _weights(run, 2)
    assert any(not torch.equal(trained[k], init_sd[k]) for k in trained), "weights did not change"
    ck = run / "checkpoints" / "iter_000002"
    agent = load_agent(ck)  # what `empg-eval --agent <ckpt>` does
    trajs = collect(agent, "empg/KeyDoor-v0", tasks=1, env_kwargs={"size": 2}, max_steps=1, progress=False)
    assert len(trajs) == 1
    return run


def test_two_iterations_empg_change_weights_and_checkpoint_loads(tmp_path):
    run = _run_and_check(tmp_path, estimator="empg")
    for row in (json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()):
        q = [row[f"step_entropy_p{p}"] for p in (10, 50, 90)]
        assert 0 <= q[0] <= q[1] <= q[2] and q[0] <= row["step_entropy"] <= q[2]  # the distribution's spread


@pytest.fixture(scope="module")
def warm_start(tmp_path_factory):
    """A tiny model behaviour-cloned for a few steps: it writes the format sometimes, so rewards vary."""
    from empg_gym.policy.tiny import tiny_model_and_tokenizer
    from empg_gym.trainers.sft import behaviour_clone

    torch.set_num_threads(1)
    model, tok = tiny_model_and_tokenizer(seed=0)
    behaviour_clone(model, tok, "empg/KeyDoor-v0", episodes=8, env_kwargs={"size": 2, "num_tasks": 4},
                    max_steps=2, num_tasks=4, steps=80, batch_size=8, history_length=0)
    path = tmp_path_factory.mktemp("warm") / "model"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kw", [
    {"estimator": "grpo"}, {"estimator": "rloo"}, {"estimator": "reinforce_pp"}, {"estimator": "gigpo"},
    # dynamic sampling keeps groups whose returns differ: here they differ only by invalid-step penalties,
    # which count under the trajectory protocol (verl-agent filters on episode rewards and would keep none)
    {"estimator": "dapo", "clip_high": 0.28, "dynamic_sampling": True, "loss_agg": "token",
     "protocol": "trajectory"},
    {"estimator": "empg", "estimator_kwargs": {"base": "dapo", "final_norm": "mean_std"}, "kl_coef": 0.01,
     "entropy_coef": 0.01, "loss_agg": "sequence"},
    {"estimator": "gae"},
], ids=["grpo", "rloo", "reinforce_pp", "gigpo", "dapo", "empg-dapo-kl-ent", "ppo"])
def test_two_iterations_every_estimator(tmp_path, warm_start, kw):
    run = _run_and_check(tmp_path, model=str(warm_start), group_size=4, max_steps=4, max_new_tokens=24, **kw)
    if kw["estimator"] == "gae":
        assert (run / "checkpoints" / "iter_000002" / "extra_critic.safetensors").is_file()


def test_ppo_resume_is_exact(tmp_path):
    kw = dict(iterations=3, estimator="gae", save_every=1)
    straight = train(_cfg(tmp_path, "a", **kw))
    killed = train(_cfg(tmp_path, "b", **kw), stop_after=1)
    train(_cfg(tmp_path, "b", resume=True, **kw))
    a, b = _weights(straight, 3), _weights(killed, 3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ca = load_file(str(straight / "checkpoints" / "iter_000003" / "extra_critic.safetensors"))
    cb = load_file(str(killed / "checkpoints" / "iter_000003" / "extra_critic.safetensors"))
    assert all(torch.equal(ca[k], cb[k]) for k in ca)


@pytest.mark.slow
def test_lora_resume_and_checkpoint_loads(tmp_path):
    pytest.importorskip("peft")
    from empg_gym.policy import load_agent

    kw = dict(iterations=2, save_every=1, lora_r=4, estimator="empg")
    straight = train(_cfg(tmp_path, "a", **kw))
    killed = train(_cfg(tmp_path, "b", **kw), stop_after=1)
    train(_cfg(tmp_path, "b", resume=True, **kw))
    a = load_file(str(straight / "checkpoints" / "iter_000002" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(killed / "checkpoints" / "iter_000002" / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    agent = load_agent(killed / "checkpoints" / "iter_000002")
    assert agent.spec.model == "tiny:qwen2" and agent.spec.lora.endswith("adapter")


@pytest.mark.slow
def test_grpo_learns_the_format_and_to_win_on_guessnumber(tmp_path):
    """From a briefly behaviour-cloned start that mostly breaks the format, GRPO learns to act validly and win.

    (The start is cloned for 50 steps only: a longer clone already plays well. Before checkpoints and model
    folders kept their tokenizer class, the trainer re-tokenized the clone's prompts differently, so even a
    150-step clone started from 0% success and only seemed to learn.)
    """
    from empg_gym.policy.tiny import tiny_model_and_tokenizer
    from empg_gym.trainers.checkpoint import read_metrics
    from empg_gym.trainers.sft import behaviour_clone

    model, tok = tiny_model_and_tokenizer(seed=0)
    behaviour_clone(model, tok, "empg/GuessNumber-v0", episodes=64, env_kwargs={"n": 8}, max_steps=6,
                    expert_prob=0.5, steps=50, batch_size=16, history_length=1, num_tasks=8)
    start = tmp_path / "start"
    model.save_pretrained(start)
    tok.save_pretrained(start)
    cfg = TrainConfig(env_id="empg/GuessNumber-v0", env_kwargs={"n": 8}, task_pool=8, max_steps=6,
                      model=str(start), history_length=1, max_new_tokens=24, groups_per_batch=8, group_size=4,
                      lr=1e-3, minibatch_size=64, micro_batch_size=16, invalid_penalty=0.05, iterations=8,
                      save_every=8, estimator="grpo", output_dir=str(tmp_path / "run"), device="cpu",
                      torch_threads=1, progress=False)
    rows = read_metrics(train(cfg) / "metrics.jsonl")

    def mean(key, rs):
        return sum(r[key] for r in rs) / len(rs)

    assert mean("invalid_rate", rows[-2:]) < mean("invalid_rate", rows[:2]) - 0.1, [r["invalid_rate"] for r in rows]
    assert mean("success", rows[-2:]) > mean("success", rows[:2]) + 0.05, [r["success"] for r in rows]


@pytest.mark.slow
def test_env_workers_on_ray_train_exactly_as_in_process(tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        local = train(_cfg(tmp_path, "local", iterations=2, estimator="grpo"))
        from empg_gym.env_workers import RayEnvs

        remote = PGTrainer(_cfg(tmp_path, "ray", iterations=2, estimator="grpo", env_workers=2))
        pool = remote._env_pool()  # the actors the rollouts step in
        assert isinstance(pool, RayEnvs) and pool.workers == 2 and pool.n == 4  # 2 groups x 2
        remote.train()
        assert remote.env_pool is None  # the actors were closed with the run
    finally:
        ray.shutdown()
    a, b = _weights(local, 2), _weights(remote.run_dir, 2)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows_a = [json.loads(x) for x in (local / "metrics.jsonl").read_text().splitlines()]
    rows_b = [json.loads(x) for x in (remote.run_dir / "metrics.jsonl").read_text().splitlines()]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert ra["train_return"] == rb["train_return"] and ra["loss"] == rb["loss"]
        assert ra["steps"] == rb["steps"] and ra["tokens"] == rb["tokens"]


def test_env_workers_must_be_a_count():
    with pytest.raises(ValueError, match="env_workers must be an integer >= 0"):
        TrainConfig(**{**FAST, "output_dir": "unused", "env_workers": -1})



def test_task_offset_shifts_the_training_pool(tmp_path):
    import gymnasium as gym

    env = gym.make("empg/KeyDoor-v0", size=2, num_tasks=8)
    ids = [env.reset(options={"task_index": i})[1]["task_id"] for i in range(8)]
    assert len(set(ids)) == 8
    t = PGTrainer(_cfg(tmp_path, env_kwargs={"size": 2, "num_tasks": 8}, task_offset=4, task_pool=4,
                       groups_per_batch=8))
    t.setup()
    played = {tr.task_id for tr in t.rollout(0)[0]}
    assert played and played <= set(ids[4:])  # 8 draws from a pool of 4: only tasks 4..7
    with pytest.raises(ValueError, match="task_offset must be >= 0"):
        TrainConfig(**{**FAST, "output_dir": "unused", "task_offset": -1})

@pytest.mark.slow
@pytest.mark.parametrize("dynamic", [False, True])
def test_rollout_reports_the_share_of_groups_with_a_return_signal(tmp_path, warm_start, dynamic):
    # trajectory protocol: invalid-step penalties are in the returns; the warm start is valid only sometimes
    t = PGTrainer(_cfg(tmp_path, model=str(warm_start), groups_per_batch=4, group_size=4, max_steps=4,
                       max_new_tokens=24, protocol="trajectory", dynamic_sampling=dynamic))
    t.setup()
    trajs, rewards, stats = t.rollout(0)
    returns: dict[int, list[float]] = {}
    for tr, r in zip(trajs, rewards, strict=True):
        returns.setdefault(tr.group_id, []).append(sum(r))
    differ = [max(v) - min(v) > 1e-9 for v in returns.values()]
    assert len(differ) == stats["groups_kept"] and stats["groups_informative"] == sum(differ) / len(differ)
    assert 0 < stats["groups_informative"]
    if dynamic:  # DAPO's filter keeps only groups whose returns differ
        assert stats["groups_informative"] == 1.0


def test_update_leaves_out_zero_advantage_rows_without_changing_it(tmp_path):
    """Rows with a zero advantage add nothing to the clipped surrogate: the update skips their forward and
    backward passes and ends at the same weights, also when a whole minibatch is zero (AdamW's moments still
    move the weights then)."""
    import copy
    import dataclasses

    import numpy as np

    torch.set_num_threads(1)
    t = PGTrainer(_cfg(tmp_path, estimator="grpo", group_size=4, max_steps=3, minibatch_size=4,
                       micro_batch_size=2))
    t.setup()
    trajs, rewards, _ = t.rollout(0)
    batch = t.step_batch(trajs, rewards)
    with torch.no_grad():
        scored = t.score(batch)
    batch = t.attach_scores(batch, scored)
    n = len(batch)
    mixed = np.zeros(n)
    mixed[::3] = np.linspace(-1.0, 1.5, len(mixed[::3]))  # two rows in three carry no signal
    first = dataclasses.replace(scored, advantages=mixed)
    second = dataclasses.replace(scored, advantages=np.zeros(n))  # every minibatch zero
    w0 = copy.deepcopy(t.model.state_dict())
    o0 = copy.deepcopy(t.optimizer.state_dict())

    def two_updates(skip):
        t.model.load_state_dict(w0)
        t.optimizer.load_state_dict(o0)
        t.skip_zero_advantage_rows = skip
        s1 = t.update(0, batch, first)
        t.update(1, batch, second)
        return s1, {k: v.detach().clone() for k, v in t.model.state_dict().items()}

    s_skip, w_skip = two_updates(True)
    s_full, w_full = two_updates(False)
    assert s_skip["optimizer_steps"] == s_full["optimizer_steps"] == -(-len(scored.live) // 4)
    assert s_skip["loss"] == pytest.approx(s_full["loss"], rel=1e-4, abs=1e-7)
    assert any(not torch.equal(w_full[k], w0[k]) for k in w0)
    for k in w0:
        torch.testing.assert_close(w_skip[k], w_full[k], rtol=1e-4, atol=1e-6)
