"""The verl integration, in a venv with verl 0.9.1 (scripts/install_verl_venv.sh); skipped elsewhere.

    scripts/install_verl_venv.sh .venv-verl
    PYTHONPATH=$PWD .venv-verl/bin/python -m pytest -q -m "" tests/integrations/test_verl.py

- Registered estimators on a verl ``DataProto`` batch (rows = agent turns, shuffled, variable response
  lengths) equal the empg-gym estimators on the same steps, for every estimator in our registry. verl keeps
  advantages in float32, so the reference is rounded to float32 before the max-abs-difference < 1e-6 check
  (advantages reach |A| ~ 40 here, where float32's spacing alone is ~4e-6).
- verl's v1 trainer, on TransferQueue with a stub actor, hands the actor's token entropies and the agent
  loop's turn fields to the advantage step only through empg-gym's trainer subclass; verl's own class stops
  with the error saying so.
- The agent loop, against a stub async generation server (a tiny model behind a fake server object), plays
  an episode to the same trajectory as ``empg_gym.rollout.collect`` with the same responses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import zlib

import numpy as np
import pytest

pytest.importorskip(
    "verl", reason="verl is not installed: it needs its own venv, made by scripts/install_verl_venv.sh"
)
pytestmark = pytest.mark.slow

import torch  # noqa: E402

from empg_gym import advantages  # noqa: E402
from empg_gym.types import StepBatch  # noqa: E402

verl_int = pytest.importorskip("empg_gym.integrations.verl")


def f32(x):
    """A reference value as verl stores advantages: rounded to float32."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def seed_of(name):
    return zlib.crc32(name.encode())  # stable across processes, unlike hash()


# ------------------------------------------------------------------------------------------------ estimators
def random_steps(rng, n_groups=4, group_size=3, max_len=6):
    """Episodes as lists of per-step dicts (reward, terminated/truncated, observation, token entropies)."""
    eps = []
    for g in range(n_groups):
        for c in range(group_size):
            n = int(rng.integers(1, max_len + 1))
            truncated = bool(rng.random() < 0.3)
            steps = []
            for t in range(n):
                k = int(rng.integers(1, 9))  # response tokens of this turn
                steps.append(
                    {
                        "group": g,
                        "copy": c,
                        "t": t,
                        "n": n,
                        "reward": float(rng.choice([0.0, 0.0, -0.1, 1.0, 10.0])),
                        "terminated": t == n - 1 and not truncated,
                        "truncated": t == n - 1 and truncated,
                        "obs": f"room {int(rng.integers(0, 3))}",  # repeats: GiGPO step groups
                        "tok_ent": rng.uniform(0.0, 5.0, size=k),
                        "value": float(rng.normal()),
                    }
                )
            eps.append(steps)
    return eps


def step_batch(eps):
    """The empg-gym side: a StepBatch built directly from the episodes (episode order)."""
    rows = [s for ep in eps for s in ep]
    traj = np.repeat(np.arange(len(eps)), [len(ep) for ep in eps])
    anchor = np.empty(len(rows), dtype=object)
    anchor[:] = [s["obs"] for s in rows]
    return StepBatch(
        traj_id=traj,
        step=np.array([s["t"] for s in rows]),
        group_id=np.array([s["group"] for s in rows]),
        reward=np.array([s["reward"] for s in rows]),
        terminated=np.array([s["terminated"] for s in rows]),
        truncated=np.array([s["truncated"] for s in rows]),
        entropy=np.array([s["tok_ent"].mean() for s in rows]),
        value=np.array([s["value"] for s in rows]),
        anchor=anchor,
    )


def verl_batch(eps, perm, length=10):
    """The verl side: one DataProto row per step, rows in order ``perm``, right-padded responses."""
    from verl import DataProto

    rows = [s for ep in eps for s in ep]
    rows = [rows[i] for i in perm]
    b = len(rows)
    mask = torch.zeros(b, length, dtype=torch.int64)
    ent = torch.zeros(b, length)
    values = torch.zeros(b, length)
    tlr = torch.zeros(b, length)
    for i, s in enumerate(rows):
        k = len(s["tok_ent"])
        mask[i, :k] = 1
        ent[i, :k] = torch.as_tensor(s["tok_ent"])
        ent[i, k:] = 99.0  # padding must not count
        values[i, :k] = s["value"]
        tlr[i, k - 1] = 123.0  # verl's broadcast episode score: ignored when empg_reward is present
    non = {
        "uid": np.array([f"prompt-{s['group']}" for s in rows], dtype=object),
        "empg_traj": np.array([f"ep-{s['group']}-{s['copy']}" for s in rows], dtype=object),
        "empg_step": np.array([s["t"] for s in rows]),
        "empg_reward": np.array([s["reward"] for s in rows]),
        "empg_terminated": np.array([s["terminated"] for s in rows]),
        "empg_truncated": np.array([s["truncated"] for s in rows]),
        "empg_anchor": np.array([s["obs"] for s in rows], dtype=object),
    }
    tensors = {"token_level_rewards": tlr, "response_mask": mask, "entropy": ent, "values": values}
    return DataProto.from_dict(tensors=tensors, non_tensors=non)


def test_registry_names():
    from verl.trainer.ppo import core_algos

    names = verl_int.install(patch=False)
    for name in advantages.list_estimators():
        assert f"empg_gym_{name}" in names
    assert {"empg", "gigpo"} <= set(names) and "grpo" not in names  # verl's own grpo stays
    assert core_algos.get_adv_estimator_fn("empg").__name__ == "empg_gym_empg"
    assert core_algos.get_adv_estimator_fn("grpo").__module__.startswith("verl.")


@pytest.mark.parametrize("name", advantages.list_estimators())
def test_registered_estimator_on_a_dataproto_equals_the_empg_gym_estimator(name):
    verl_int.install(patch=False)
    rng = np.random.default_rng(seed_of(name))
    eps = random_steps(rng)
    sb = step_batch(eps)
    expected = advantages.get(name)(sb)  # [N] in episode order
    assert np.ptp(expected) > 0  # not a degenerate comparison
    perm = rng.permutation(len(sb))
    data = verl_batch(eps, perm)
    out = verl_int.compute_advantage(data, f"empg_gym_{name}")
    adv = out.batch["advantages"]
    mask = out.batch["response_mask"].bool()
    got = adv[:, 0].double().numpy()
    assert torch.all(adv[~mask] == 0)  # only response tokens carry the advantage
    assert torch.all((adv == adv[:, :1]) | ~mask)  # the step's advantage on each of its tokens
    assert np.max(np.abs(got - f32(expected[perm]))) < 1e-6
    # the same through verl's own registry lookup and call signature
    fn = __import__("verl.trainer.ppo.core_algos", fromlist=["x"]).get_adv_estimator_fn(f"empg_gym_{name}")
    adv2, _ = fn(
        token_level_rewards=data.batch["token_level_rewards"],
        response_mask=data.batch["response_mask"],
        index=data.non_tensor_batch["uid"],
        config=None,
        batch=data.batch,
        non_tensor_batch=data.non_tensor_batch,
    )
    assert torch.equal(adv2, adv)


def test_hyperparameters_reach_the_estimator(monkeypatch):
    verl_int.install(patch=False)
    rng = np.random.default_rng(5)
    eps = random_steps(rng)
    sb = step_batch(eps)
    perm = np.arange(len(sb))
    monkeypatch.setenv(verl_int.KWARGS_ENV_VAR, '{"empg": {"zeta": 0.5, "k": 2.0}}')
    got = verl_int.compute_advantage(verl_batch(eps, perm), "empg").batch["advantages"][:, 0].double().numpy()
    want = advantages.get("empg")(sb, zeta=0.5, k=2.0)
    assert np.max(np.abs(got - f32(want))) < 1e-6 and np.max(np.abs(want - advantages.get("empg")(sb))) > 1e-3
    monkeypatch.setenv(verl_int.KWARGS_ENV_VAR, '{"empg": {"zeta_typo": 0.5}}')
    with pytest.raises(ValueError, match="zeta_typo"):
        verl_int.compute_advantage(verl_batch(eps, perm), "empg")


def test_stock_verl_call_without_the_batch():
    """verl 0.9.1 passes only rewards, mask and uid: one-step episodes; EMPG names what is missing."""
    from verl.trainer.ppo import core_algos

    verl_int.install(patch=False)
    rng = np.random.default_rng(1)
    b, length = 8, 5
    mask = torch.ones(b, length, dtype=torch.int64)
    tlr = torch.zeros(b, length)
    scores = rng.choice([0.0, 1.0, 10.0], size=b)
    tlr[:, -1] = torch.as_tensor(scores, dtype=torch.float32)
    uid = np.array(["a"] * 4 + ["b"] * 4, dtype=object)
    adv, _ = core_algos.get_adv_estimator_fn("empg_gym_grpo")(
        token_level_rewards=tlr, response_mask=mask, index=uid, config=None
    )
    sb = StepBatch(
        traj_id=np.arange(b),
        step=np.zeros(b, int),
        group_id=np.repeat([0, 1], 4),
        reward=scores,
        terminated=np.ones(b, bool),
        truncated=np.zeros(b, bool),
    )
    assert np.max(np.abs(adv[:, 0].double().numpy() - f32(advantages.get("grpo")(sb)))) < 1e-6
    with pytest.raises(ValueError, match="per-token entropies"):
        core_algos.get_adv_estimator_fn("empg")(token_level_rewards=tlr, response_mask=mask, index=uid)


def test_patch_trainer_routes_verl_compute_advantage():
    import verl.trainer.ppo.ray_trainer as rt

    verl_int.install(patch=True)
    rng = np.random.default_rng(2)
    eps = random_steps(rng)
    sb = step_batch(eps)
    perm = np.arange(len(sb))
    out = rt.compute_advantage(verl_batch(eps, perm), "gigpo", config=None)
    got = out.batch["advantages"][:, 0].double().numpy()
    assert np.max(np.abs(got - f32(advantages.get("gigpo")(sb)))) < 1e-6
    # verl's own estimators still go to verl
    data = verl_batch(eps, perm)
    out = rt.compute_advantage(data, "grpo", norm_adv_by_std_in_grpo=True)
    assert out.batch["advantages"].shape == data.batch["response_mask"].shape


# ------------------------------------------------------------------------------------------------ agent loop
GUESS = "empg/GuessNumber-v0"


@pytest.fixture(scope="module")
def tiny():
    from empg_gym.policy.tiny import tiny_model_and_tokenizer

    return tiny_model_and_tokenizer(seed=0)


class StubServer:
    """verl's server-manager interface (``await generate(request_id, prompt_ids=, sampling_params=)``).

    ``script`` given: returns those response texts in order (tokenised); otherwise the tiny model's greedy
    continuation with the request's stop strings (what a vLLM server does with temperature 0).
    """

    def __init__(self, model, tok, script=None, max_new_tokens=12):
        self.model, self.tok, self.script = model, tok, list(script or [])
        self.max_new_tokens = max_new_tokens
        self.requests = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **_):
        from verl.workers.rollout.replica import TokenOutput

        from empg_gym.policy.hf import sample

        self.requests.append((list(prompt_ids), dict(sampling_params)))
        if self.script:
            return TokenOutput(token_ids=self.tok(self.script.pop(0), add_special_tokens=False)["input_ids"])
        g = sample(
            self.model,
            self.tok,
            [prompt_ids],
            max_new_tokens=self.max_new_tokens,
            greedy=True,
            stop=sampling_params.get("stop", ()),
            record=True,
        )[0]
        return TokenOutput(token_ids=list(g.token_ids), log_probs=list(g.logprobs))


def make_loop(tok, server, **kw):
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap

    cfg = OmegaConf.create(
        {"actor_rollout_ref": {"rollout": {"prompt_length": 4096, "response_length": 64}}, "data": {}}
    )
    return verl_int.EnvAgentLoop(
        trainer_config=DictConfigWrap(cfg),
        server_manager=server,
        tokenizer=tok,
        processor=None,
        dataset_cls=None,
        data_config=DictConfigWrap(cfg.data),
        hf_model_type="qwen2",
        **kw,
    )


def collect_with(tiny, script=None, **kw):
    from empg_gym.agent import ActionSample
    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent
    from empg_gym.prompting import get_template
    from empg_gym.rollout import collect

    model, tok = tiny
    spec = AgentSpec(
        backend="transformers", model="tiny:qwen2", sampling={"greedy": True, "max_new_tokens": 12}
    )
    agent = TransformersAgent(model, tok, spec)
    if script is not None:  # the same responses as the scripted server, through the same prompt path
        texts = list(script)

        def act(histories):
            out = []
            for h in histories:
                ptext, pids = agent.prompt(h)
                text = texts.pop(0)
                proj = get_template("auto", h.env_id).parse(text, h)
                out.append(
                    ActionSample(
                        text=text,
                        action=proj.action,
                        format_valid=proj.format_valid,
                        prompt=ptext,
                        prompt_token_ids=tuple(pids),
                        token_ids=tuple(tok(text, add_special_tokens=False)["input_ids"]),
                    )
                )
            return out

        agent.act = act
    return collect(agent, GUESS, batch_size=1, progress=False, **kw)[0]


def test_agent_loop_plays_the_collect_trajectory_with_scripted_responses(tiny):
    model, tok = tiny
    script = [
        "<think>middle</think><action>guess 8</action>",
        "no tags at all",
        "<think>lower half</think><action>guess 4</action>",
    ]
    ref = collect_with(tiny, script, tasks=[{"task_index": 3}], seed=7)  # hidden number 4
    assert [t.action for t in ref.turns] == ["guess 8", "", "guess 4"] and ref.won
    server = StubServer(model, tok, script)
    outs = asyncio.run(
        make_loop(tok, server).run(
            {"temperature": 1.0}, extra_info={"env_id": GUESS, "options": {"task_index": 3}, "seed": 7}
        )
    )
    assert len(outs) == 3
    for out, turn, (req_ids, params) in zip(outs, ref.turns, server.requests, strict=True):
        assert out.prompt_ids == list(turn.prompt_token_ids) == req_ids  # empg-gym's prompt, token for token
        assert out.response_ids == list(turn.token_ids) and out.response_mask == [1] * len(turn.token_ids)
        assert "</action>" in params["stop"]
    assert [o.extra_fields["empg_step"] for o in outs] == [0, 1, 2]
    assert [o.extra_fields["empg_reward"] for o in outs] == [t.reward for t in ref.turns]
    assert [o.extra_fields["empg_anchor"] for o in outs] == [t.observation for t in ref.turns]
    assert [o.extra_fields["empg_format_valid"] for o in outs] == [True, False, True]
    assert len({o.extra_fields["empg_traj"] for o in outs}) == 1
    assert [o.reward_score for o in outs] == [None, None, ref.total_reward] and ref.total_reward == 1.0


def test_play_episode_equals_collect_with_the_tiny_model(tiny):
    model, tok = tiny
    ref = collect_with(tiny, tasks=[{"task_index": 5}], seed=11, max_steps=3)
    server = StubServer(model, tok)

    async def gen(pids, params):
        out = await server.generate("r", prompt_ids=pids, sampling_params=params)
        return out.token_ids, out.log_probs

    traj, timings = asyncio.run(
        verl_int.play_episode(gen, tok, GUESS, options={"task_index": 5}, seed=11, max_steps=3)
    )
    # a generation server returns log-probs, not full-vocabulary entropies (the actor's pass computes those)
    assert all(t.entropies for t in ref.turns) and not any(t.entropies for t in traj.turns)
    ref = dataclasses.replace(ref, turns=tuple(dataclasses.replace(t, entropies=()) for t in ref.turns))
    assert traj == ref  # every turn: prompt, ids, log-probs, response, action, validity, reward, flags, info
    assert len(ref.turns) == 3 and ref.turns[-1].truncated and timings["env_s"] >= 0


def test_agent_loop_needs_an_env_id(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="env_id"):
        asyncio.run(make_loop(tok, StubServer(model, tok)).run({}, extra_info={}))


def test_dataset_rows_drive_the_agent_loop(tiny, tmp_path):
    import pandas as pd

    model, tok = tiny
    path = tmp_path / "guess.parquet"
    rc = verl_int.main(["dataset", "--env", GUESS, "--tasks", "3", "--first", "2", "--seed", "100",
                        "--env-kwargs", "{}", "--out", str(path)])
    assert rc == 0
    df = pd.read_parquet(path)
    assert list(df["agent_name"]) == [verl_int.AGENT_LOOP_NAME] * 3 and list(df["data_source"]) == [GUESS] * 3
    row = df.iloc[1].to_dict()
    fields = verl_int._task_fields(row)
    assert fields["options"] == {"task_index": 3} and fields["seed"] == 101 and fields["env_kwargs"] == {}
    script = ["<action>guess 8</action>", "<action>guess 4</action>"]
    outs = asyncio.run(make_loop(tok, StubServer(model, tok, script)).run({}, **row))
    assert [o.extra_fields["empg_reward"] for o in outs] == [0.0, 1.0]  # task 3 hides 4


# ------------------------------------------------------------------------------------------------ recipes
RECIPES = __import__("pathlib").Path(__file__).resolve().parents[2] / "baselines" / "verl"


@pytest.mark.parametrize("env", ["alfworld", "webshop"])
def test_recipe_agent_loop_configs_instantiate_the_env_loop(env, tiny):
    import hydra
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap

    import empg_gym  # noqa: F401  (registers the envs)

    (entry,) = OmegaConf.load(RECIPES / f"agent_loop_{env}.yaml")
    assert entry.name == verl_int.AGENT_LOOP_NAME
    import gymnasium as gym

    assert entry.env_id in gym.registry
    cfg = OmegaConf.create({"actor_rollout_ref": {"rollout": {"prompt_length": 4096, "response_length": 512}},
                            "data": {}})
    loop = hydra.utils.instantiate(entry, trainer_config=DictConfigWrap(cfg), server_manager=None,
                                   tokenizer=tiny[1], processor=None, hf_model_type="qwen2", dataset_cls=None,
                                   data_config=DictConfigWrap(cfg.data))
    assert isinstance(loop, verl_int.EnvAgentLoop)
    assert loop.defaults["env_id"] == entry.env_id and loop.defaults["max_steps"] == {"alfworld": 50,
                                                                                       "webshop": 15}[env]


def test_launch_script_overrides_name_real_verl_config_keys():
    import re
    from importlib.resources import files

    import yaml

    base = yaml.safe_load((files("verl.trainer.config") / "_generated_ppo_trainer.yaml").read_text())
    text = (RECIPES / "launch.sh").read_text()
    keys = re.findall(r"^\s+(\+?[a-z_][a-z_0-9.]*)=", text, flags=re.M)
    assert len(keys) > 20
    for key in keys:
        if key.startswith("+"):
            continue  # new keys (Ray runtime env)
        node = base
        for part in key.split("."):  # the key exists (a mandatory "???" value counts)
            assert isinstance(node, dict) and part in node, key
            node = node[part]


def test_row_env_kwargs_update_the_config_defaults(tiny):
    model, tok = tiny
    loop = make_loop(tok, StubServer(model, tok, ["<action>guess 8</action>"]), env_id=GUESS,
                     env_kwargs={"n": 16}, max_steps=1)
    outs = asyncio.run(loop.run({}, extra_info={"options": '{"task_index": 7}', "env_kwargs": '{"n": 8}'}))
    # n = 8: the prompt says "between 1 and 8" (the row's kwargs), and the one allowed step truncates
    assert "between 1 and 8" in tok.decode(outs[0].prompt_ids) and outs[0].extra_fields["empg_truncated"]


# ------------------------------------------------------------------------------------------------ v1 trainer
# verl's v1 trainer keeps rows in TransferQueue (TQ). These tests run TQ's in-memory storage on a local Ray,
# store rows as verl's TQ agent-loop worker does, and call the trainer's real methods (_balance_batch,
# _compute_old_log_prob, _compute_advantage) with a stub actor worker group that writes the actor's
# compute_log_prob output (per-token entropy and log-probs over prompt + response) the way the real one does.


@pytest.fixture(scope="module")
def tq_cluster():
    tq = pytest.importorskip(
        "transfer_queue", reason="TransferQueue is not installed (scripts/install_verl_venv.sh)"
    )
    import ray

    # TQ: controller + 1 storage actor; the setup hook as the launch recipes set it (checked below)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"worker_process_setup_hook": "empg_gym.integrations.verl_trainer.install"})
    try:
        tq.init({"backend": {"SimpleStorage": {"num_data_storage_units": 1}}})
        yield tq
    finally:
        tq.close()
        ray.shutdown()


def trajectories(eps):
    """The random episodes as Trajectories (one turn per step, float32 token entropies as the actor has)."""
    from empg_gym.types import Trajectory, Turn

    out = []
    for ep in eps:
        turns = tuple(
            Turn(observation=s["obs"], prompt_token_ids=tuple(range(3 + s["t"])),
                 token_ids=tuple(range(100, 100 + len(s["tok_ent"]))), reward=s["reward"],
                 terminated=s["terminated"], truncated=s["truncated"])
            for s in ep
        )
        out.append(Trajectory(env_id="empg/GuessNumber-v0", task_id="0", task="", turns=turns,
                              group_id=ep[0]["group"]))
    return out


def put_rows(tq, eps, prefix):
    """Store each episode's turn outputs as verl's AgentLoopWorkerTQ does; the batch meta of all rows."""
    from tensordict import TensorDict  # noqa: F401  (verl's TQ fields are TensorDicts)
    from transfer_queue import KVBatchMeta
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    keys, tags, token_ent = [], [], {}
    for ep, traj in zip(eps, trajectories(eps), strict=True):
        uid, session = f"{prefix}{ep[0]['group']}", ep[0]["copy"]
        outs = verl_int.turn_outputs(traj, response_length=64)
        final = outs[-1]
        fields, ep_keys, ep_tags = [], [], []
        for i, (out, s) in enumerate(zip(outs, ep, strict=True)):
            if out is not final:  # the worker copies the episode's score to every turn
                out.reward_score = final.reward_score
                out.extra_fields["reward_extra_info"] = final.extra_fields["reward_extra_info"]
            f = out.as_dict()
            f.update(uid=uid, session_id=session, global_steps=1)
            f["loss_mask"] = f["response_mask"]
            f["input_ids"] = torch.cat([f["prompts"], f["responses"]])
            fields.append(f)
            key = f"{uid}_{session}_{i}"
            ep_keys.append(key)
            token_ent[key] = torch.as_tensor(s["tok_ent"], dtype=torch.float32)
            p, r = len(f["prompts"]), len(f["responses"])
            ep_tags.append({"status": "success", "prompt_len": p, "response_len": r, "seq_len": p + r,
                            "global_steps": 1})
        tq.kv_batch_put(keys=ep_keys, partition_id="train", fields=list_of_dict_to_tensordict(fields),
                        tags=ep_tags)
        keys += ep_keys
        tags += ep_tags
    return KVBatchMeta(keys=keys, tags=tags, partition_id="train"), token_ent


class StubActor:
    """The actor worker group's surface the trainer uses: dispatch info and compute_log_prob into TQ."""

    def __init__(self, tq, token_ent, dp_size=2):
        self.tq, self.token_ent = tq, token_ent
        self._dispatch_info = {"actor": list(range(dp_size))}
        self.calls = 0

    def compute_log_prob(self, batch):
        """Per-token entropy and log-prob over prompt + response, shifted by one as a causal LM's output."""
        self.calls += 1
        td = self.tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id,
                                  select_fields=["prompts", "responses"])
        ents, lps = [], []
        for key, p, r in zip(batch.keys, td["prompts"].unbind(), td["responses"].unbind(), strict=True):
            e = torch.full((len(p) + len(r),), 77.0)  # prompt positions: not the response's
            # a padding row's single token has no recorded entropy: any value, it is masked out
            e[len(p) - 1 : len(p) + len(r) - 1] = self.token_ent.get(key, torch.full((len(r),), 55.0))
            ents.append(e)
            lps.append(-e / 10)
        out = {"entropy": torch.nested.as_nested_tensor(ents, layout=torch.jagged),
               "log_probs": torch.nested.as_nested_tensor(lps, layout=torch.jagged)}
        from tensordict import TensorDict

        self.tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id,
                             fields=TensorDict(out, batch_size=len(batch)))
        return batch


class StubTokenizer:
    eos_token_id = 2


def v1_trainer(cls, tq, token_ent, estimator, n_rows):
    """A v1 trainer object with the config and workers its advantage path reads (no GPUs, no Ray workers)."""
    from omegaconf import OmegaConf

    trainer = object.__new__(cls)
    trainer.config = OmegaConf.create({
        "algorithm": {"adv_estimator": estimator, "use_kl_in_reward": False, "gamma": 1.0, "lam": 1.0,
                      "norm_adv_by_std_in_grpo": True, "rollout_correction": None},
        # mini-batch of n_rows + 1 rows: the batch is always padded with synthetic rows
        "actor_rollout_ref": {"rollout": {"n": 1, "temperature": 1.0, "calculate_log_probs": False},
                              "actor": {"ppo_mini_batch_size": n_rows + 1, "loss_agg_mode": "token-mean",
                                        "loss_scale_factor": None}},
        "trainer": {"critic_warmup": 0},
    })
    trainer.actor_rollout_wg = StubActor(tq, token_ent)
    trainer.tokenizer = StubTokenizer()
    trainer.use_critic = False
    trainer.global_steps = 1
    return trainer


def stored_advantages(tq, batch):
    td = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["advantages"])
    return [row for row in td["advantages"].unbind()]


@pytest.mark.parametrize(("verl_name", "name"), [("empg", "empg"), ("gigpo", "gigpo"), ("empg_gym_rloo", "rloo")])
def test_v1_trainer_advantage_step_equals_the_empg_gym_estimator(tq_cluster, verl_name, name):
    from empg_gym.integrations import verl_trainer

    verl_trainer.install()
    rng = np.random.default_rng(seed_of(name))
    eps = random_steps(rng)
    for ep in eps:
        for s in ep:  # the actor's entropies are float32
            s["tok_ent"] = s["tok_ent"].astype(np.float32)
    sb = step_batch(eps)
    expected = dict(zip([f"{name}-{s['group']}_{s['copy']}_{s['t']}" for ep in eps for s in ep],
                        advantages.get(name)(sb), strict=True))
    batch, token_ent = put_rows(tq_cluster, eps, prefix=f"{name}-")
    trainer = v1_trainer(verl_trainer.PPOTrainerSync, tq_cluster, token_ent, verl_name, len(sb))
    metrics = {}
    batch = trainer._balance_batch(batch, metrics=metrics)  # verl's: pads and reorders
    padded = [k for k, tag in zip(batch.keys, batch.tags, strict=True) if tag.get("is_padding")]
    assert padded and len(batch) == len(sb) + len(padded) and batch.keys != sorted(batch.keys)
    batch = trainer._compute_old_log_prob(batch, metrics=metrics)  # verl's: stores the response entropies
    assert trainer.actor_rollout_wg.calls == 1 and "actor/entropy" in metrics
    batch = trainer._compute_advantage(batch, metrics=metrics)  # ours, then verl's
    got = stored_advantages(tq_cluster, batch)
    for key, adv in zip(batch.keys, got, strict=True):
        if key in padded:
            assert torch.all(adv == 0)
        else:
            assert len(adv) == len(token_ent[key]) and torch.all(adv == adv[0])
            assert abs(float(adv[0]) - f32(expected[key])) < 1e-6, key
    assert np.ptp(list(expected.values())) > 0


def test_v1_stock_advantage_step_drops_the_entropies_and_says_so(tq_cluster):
    from empg_gym.integrations import verl_trainer

    verl_trainer.install()
    rng = np.random.default_rng(3)
    eps = random_steps(rng)
    batch, token_ent = put_rows(tq_cluster, eps, prefix="stock-")
    stock = verl_trainer.STOCK_TRAINERS["sync"]
    trainer = v1_trainer(stock, tq_cluster, token_ent, "empg", sum(map(len, eps)))
    batch = trainer._compute_old_log_prob(trainer._balance_batch(batch, metrics={}), metrics={})
    fields = tq_cluster.kv_batch_get(keys=batch.keys, partition_id="train", select_fields=["entropy"])
    assert fields["entropy"].is_nested  # stored, yet the stock advantage step does not read it
    with pytest.raises(ValueError, match="per-token entropies"):
        trainer._compute_advantage(batch, metrics={})
    # ours on the same stored rows works
    ours = v1_trainer(verl_trainer.PPOTrainerSync, tq_cluster, token_ent, "empg", sum(map(len, eps)))
    ours._compute_advantage(batch, metrics={})
    assert len(stored_advantages(tq_cluster, batch)) == len(batch)


def test_v1_empg_without_the_old_log_prob_pass_names_the_setting(tq_cluster):
    """Rows with no stored entropies (rollout_correction.bypass_mode skips the actor's pass): a clear error."""
    from empg_gym.integrations import verl_trainer

    verl_trainer.install()
    eps = random_steps(np.random.default_rng(4))
    batch, token_ent = put_rows(tq_cluster, eps, prefix="bypass-")
    trainer = v1_trainer(verl_trainer.PPOTrainerSync, tq_cluster, token_ent, "empg", sum(map(len, eps)))
    with pytest.raises(ValueError, match="bypass_mode"):
        trainer._compute_advantage(batch, metrics={})
    trainer.config.algorithm.adv_estimator = "gigpo"  # needs no entropies: runs on the same rows
    trainer.config.algorithm.use_kl_in_reward = True  # ...but not with a KL penalty it would ignore
    with pytest.raises(ValueError, match="use_kl_loss"):
        trainer._compute_advantage(batch, metrics={})
    trainer.config.algorithm.use_kl_in_reward = False
    trainer._compute_advantage(batch, metrics={})
    assert len(stored_advantages(tq_cluster, batch)) == len(batch)


def test_the_setup_hook_installs_our_trainer_in_ray_worker_processes(tq_cluster):
    """What the TaskRunner actor of verl's main_ppo sees when the recipe's hook is set."""
    import ray

    @ray.remote(num_cpus=0)
    def trainer_of_sync_mode():
        from verl.trainer.ppo.v1 import get_trainer_cls

        from empg_gym.integrations import verl as v

        cls = get_trainer_cls("sync")
        return f"{cls.__module__}.{cls.__qualname__}", v.empg_gym_name("empg")

    assert ray.get(trainer_of_sync_mode.remote()) == ("empg_gym.integrations.verl_trainer.PPOTrainerSync", "empg")


def test_install_puts_our_trainers_under_verls_mode_names():
    pytest.importorskip("transfer_queue", reason="TransferQueue is not installed (scripts/install_verl_venv.sh)")
    from verl.trainer.ppo.v1 import get_trainer_cls

    from empg_gym.integrations import verl_trainer

    verl_trainer.install()
    for mode in ("sync", "colocate_async", "separate_async"):
        cls = get_trainer_cls(mode)
        assert cls is verl_trainer.OURS[mode] and issubclass(cls, verl_trainer.STOCK_TRAINERS[mode])
        # only the advantage step differs from verl's class
        assert [k for k in vars(verl_trainer.StepFieldsMixin) if not k.startswith("__")] == ["_compute_advantage"]


@pytest.mark.parametrize(("method", "adv"), [("empg", "empg"), ("grpo", "empg_gym_grpo")])
def test_launch_script_composes_through_the_empg_gym_trainer(method, adv, tmp_path):
    """launch.sh with Hydra's --cfg job: verl's main_ppo composes the config through our entry point."""
    import os
    import subprocess
    import sys

    import yaml

    pytest.importorskip("transfer_queue", reason="TransferQueue is not installed (scripts/install_verl_venv.sh)")
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "PYTHONPATH": str(RECIPES.parents[1]), "DATA": str(tmp_path), "MODELS": str(tmp_path)}
    out = subprocess.run(["bash", str(RECIPES / "launch.sh"), "alfworld", method, "1.5b", "1", "--cfg", "job"],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    cfg = yaml.safe_load(out.stdout[out.stdout.index("actor_rollout_ref:"):])
    assert cfg["algorithm"]["adv_estimator"] == adv and cfg["trainer"]["use_v1"] is True
    assert cfg["trainer"]["v1"]["trainer_mode"] == "sync"  # verl's mode name, our class (install_trainers)
    hook = cfg["ray_kwargs"]["ray_init"]["runtime_env"]["worker_process_setup_hook"]
    assert hook == "empg_gym.integrations.verl_trainer.install"
    assert cfg["actor_rollout_ref"]["rollout"]["agent"]["default_agent_loop"] == verl_int.AGENT_LOOP_NAME
    assert cfg["algorithm"]["rollout_correction"]["bypass_mode"] is False  # the pass that computes entropies


def test_train_refuses_the_legacy_trainer():
    pytest.importorskip("transfer_queue", reason="TransferQueue is not installed (scripts/install_verl_venv.sh)")
    from empg_gym.integrations import verl_trainer

    with pytest.raises(SystemExit, match="one row per turn"):
        verl_trainer.train(["algorithm.adv_estimator=empg", "trainer.use_v1=false"])
