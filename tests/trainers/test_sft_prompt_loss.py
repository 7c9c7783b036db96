"""Behaviour cloning's auxiliary next-token loss on the prompts (``prompt_loss_weight``)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from empg_gym.trainers.sft import behaviour_clone  # noqa: E402

KW = dict(episodes=8, env_kwargs={"size": 2, "num_tasks": 4}, max_steps=2, num_tasks=4, batch_size=8,
          history_length=1, expert_prob=1.0, think="ok", seed=0)


def _prompt_nll(model, tok):
    """Mean next-token NLL over the prompt tokens of a few KeyDoor demonstration prompts."""
    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent
    from empg_gym.rollout import collect
    from empg_gym.trainers.sft import NoisyExpert

    demo = NoisyExpert(1.0, 1)
    collect(demo, "empg/KeyDoor-v0", tasks=[{"task_index": i} for i in range(4)], seed=1,
            env_kwargs={"size": 2, "num_tasks": 4}, max_steps=2, progress=False)
    agent = TransformersAgent(model, tok, AgentSpec(backend="transformers", model="<in memory>", history_length=1))
    total, n = 0.0, 0
    with torch.no_grad():
        for h, _ in demo.pairs:
            _, ids = agent.prompt(h)
            x = torch.tensor([list(ids)])
            lp = torch.log_softmax(model(input_ids=x).logits[0, :-1].float(), -1)
            total -= float(lp.gather(-1, x[0, 1:].unsqueeze(-1)).sum())
            n += x.shape[1] - 1
    return total / n


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_prompt_loss_teaches_the_prompts_only_when_asked(weight):
    from empg_gym.policy.tiny import tiny_model_and_tokenizer

    torch.set_num_threads(1)
    model, tok = tiny_model_and_tokenizer(seed=0)
    before = _prompt_nll(model, tok)
    stats = behaviour_clone(model, tok, "empg/KeyDoor-v0", steps=40, prompt_loss_weight=weight, **KW)
    after = _prompt_nll(model, tok)
    assert stats["last_loss"] < stats["first_loss"]  # the response is learnt either way
    if weight:
        assert after < 0.6 * before, (before, after)  # the prompts' text is learnt too
    else:
        assert after > 0.8 * before, (before, after)  # the response loss alone barely touches the prompts


def test_prompt_loss_weight_zero_is_the_response_loss_path():
    """Weight 0 and weight 0 through the full-logits path would differ only in speed: same first loss."""
    from empg_gym.policy.tiny import tiny_model_and_tokenizer

    a, tok = tiny_model_and_tokenizer(seed=0)
    b, _ = tiny_model_and_tokenizer(seed=0)
    sa = behaviour_clone(a, tok, "empg/KeyDoor-v0", steps=1, **KW)
    sb = behaviour_clone(b, tok, "empg/KeyDoor-v0", steps=1, prompt_loss_weight=1e-30, **KW)
    assert sa["first_loss"] == pytest.approx(sb["first_loss"], rel=1e-5)
