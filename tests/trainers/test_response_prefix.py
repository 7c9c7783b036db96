"""``response_prefix``: a fixed start of every response, put in the prompt by BC, the trainer and the checkpoint."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from empg_gym.policy import load_spec  # noqa: E402
from empg_gym.prompting import format_response  # noqa: E402
from empg_gym.trainers import train  # noqa: E402
from empg_gym.trainers.config import TrainConfig  # noqa: E402
from empg_gym.trainers.pg import PGTrainer  # noqa: E402
from empg_gym.trainers.sft import behaviour_clone  # noqa: E402

PREFIX = "<think>ok</think><action>"
KEYDOOR = dict(env_id="empg/KeyDoor-v0", env_kwargs={"size": 2, "num_tasks": 4})


def test_response_forms():
    assert format_response("go north", "ok") == "<think>ok</think><action>go north</action>"
    assert format_response("<answer> Paris </answer>", "ok") == "<think>ok</think><answer> Paris </answer>"
    assert format_response("<answer> Paris </answer>", "x", sep=" ") == "<think>x</think> <answer> Paris </answer>"


def test_config_carries_the_prefix_to_the_agent_and_the_checkpoint(tmp_path):
    cfg = TrainConfig(**KEYDOOR, task_pool=4, max_steps=2, model="tiny:qwen2", group_size=2, groups_per_batch=2,
                      max_new_tokens=6, history_length=0, minibatch_size=4, micro_batch_size=2, iterations=1,
                      save_every=1, device="cpu", progress=False, torch_threads=1, response_prefix=PREFIX,
                      output_dir=str(tmp_path / "run"))
    assert cfg.agent_spec().extra == {"response_prefix": PREFIX}
    assert TrainConfig().agent_spec().extra == {}
    trainer = PGTrainer(cfg)
    trainer.setup()
    agent = trainer.make_agent(seed=0)
    from empg_gym.rollout import collect

    trajs = collect(agent, "empg/KeyDoor-v0", tasks=1, env_kwargs={"size": 2}, max_steps=1, progress=False)
    step = trajs[0].turns[0]
    tail = trainer.tokenizer(PREFIX, add_special_tokens=False)["input_ids"]
    assert list(step.prompt_token_ids[-len(tail):]) == tail  # the prefix ends the prompt, it is not generated
    run = train(cfg)
    spec = load_spec(str(run / "checkpoints" / "iter_000001"))  # what empg-eval --agent <ckpt> reads
    assert spec.extra["response_prefix"] == PREFIX


@pytest.mark.slow
def test_bc_with_prefix_learns_the_rest_of_the_response():
    """Cloning the expert with the frame in the prompt: the greedy clone writes valid ``X</action>`` tails."""
    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent
    from empg_gym.policy.tiny import tiny_model_and_tokenizer
    from empg_gym.rollout import collect

    torch.set_num_threads(1)
    model, tok = tiny_model_and_tokenizer(seed=0)
    stats = behaviour_clone(model, tok, "empg/KeyDoor-v0", episodes=8, env_kwargs={"size": 2, "num_tasks": 4},
                            max_steps=2, num_tasks=4, steps=120, batch_size=8, history_length=0, expert_prob=1.0,
                            think="ok", response_prefix=PREFIX)
    assert stats["last_loss"] < 0.5 * stats["first_loss"]
    spec = AgentSpec(backend="transformers", model="<in memory>", history_length=0,
                     sampling={"greedy": True, "max_new_tokens": 12}, extra={"response_prefix": PREFIX})
    agent = TransformersAgent(model, tok, spec)
    trajs = collect(agent, "empg/KeyDoor-v0", tasks=4, env_kwargs={"size": 2, "num_tasks": 4}, max_steps=2,
                    progress=False)
    steps = [s for t in trajs for s in t.turns]
    assert all(s.response.endswith("</action>") and s.format_valid for s in steps)  # the frame is not generated
    assert sum(s.action_valid and s.format_valid for s in steps) >= 0.75 * len(steps)


def test_bc_refuses_a_prefix_the_demonstrations_do_not_start_with():
    from empg_gym.policy.tiny import tiny_model_and_tokenizer

    model, tok = tiny_model_and_tokenizer(seed=0)
    with pytest.raises(ValueError, match="does not start the demonstration response"):
        behaviour_clone(model, tok, "empg/KeyDoor-v0", episodes=1, env_kwargs={"size": 2, "num_tasks": 4},
                        max_steps=1, steps=1, think="ok", response_prefix="<think>other</think>")


def test_choose_mode_trains_on_the_chosen_actions_tokens(tmp_path):
    """``action_mode: choose``: every action is admissible, the trained tokens are ``{a}</action>``."""
    cfg = TrainConfig(**KEYDOOR, task_pool=4, max_steps=2, model="tiny:qwen2", group_size=2, groups_per_batch=2,
                      max_new_tokens=6, history_length=0, minibatch_size=4, micro_batch_size=2, iterations=2,
                      save_every=2, device="cpu", progress=False, torch_threads=1, action_mode="choose",
                      response_prefix="<think>ok</think>", output_dir=str(tmp_path / "run"))
    assert cfg.agent_spec().action_mode == "choose"
    trainer = PGTrainer(cfg)
    trainer.setup()
    from empg_gym.rollout import collect

    trajs = collect(trainer.make_agent(seed=0), "empg/KeyDoor-v0", tasks=2, env_kwargs={"size": 2, "num_tasks": 4},
                    max_steps=2, progress=False)
    tok = trainer.tokenizer
    for t in trajs:
        for turn in t.turns:
            assert turn.action_valid and turn.format_valid and turn.action in turn.admissible_actions
            assert tok.decode(list(turn.token_ids)) == f"{turn.action}</action>"
            assert tok.decode(list(turn.prompt_token_ids)).endswith("<think>ok</think><action>")
    run = train(cfg)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["invalid_rate"] for r in rows] == [0.0, 0.0]
    assert load_spec(str(run / "checkpoints" / "iter_000002")).action_mode == "choose"
