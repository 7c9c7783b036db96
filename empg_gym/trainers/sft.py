"""Behaviour cloning warm start: teach a (tiny) model the response format and a noisy policy.

A randomly initialised model never writes ``<think>...</think><action>...</action>``, so RL from it gets no
reward signal at all. For CPU experiments (the learning benchmark, trainer tests) we first clone a *noisy*
expert: at each turn the demonstrator plays the env's scripted expert action with probability
``expert_prob`` and a uniformly random admissible action otherwise, and the model is trained with
cross-entropy on ``<think>{think}</think><action>{action}</action>`` given the exact prompt the
:class:`~empg_gym.policy.hf.TransformersAgent` would build. With ``expert_prob`` well below 1 the clone is
a mediocre policy in the right format: a fair starting point for comparing credit-assignment methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from empg_gym.agent import ActionSample
from empg_gym.prompting import format_response
from empg_gym.types import History


class NoisyExpert:
    """Plays ``info["expert_action"]`` with probability ``expert_prob``, else a random admissible action.

    Records ``(history, action)`` for every turn in :attr:`pairs`.
    """

    needs_expert = True

    def __init__(self, expert_prob: float, seed: int = 0) -> None:
        self.expert_prob = expert_prob
        self.rng = np.random.default_rng(seed)
        self.pairs: list[tuple[History, str]] = []
        self.name = "noisy-expert"

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """One action per history (see the class docstring)."""
        out = []
        for h in histories:
            adm = list(h.admissible_actions or [])
            exp = h.info.get("expert_action")
            a = exp if (exp is not None and (self.rng.random() < self.expert_prob or not adm)) else \
                str(adm[self.rng.integers(len(adm))])
            self.pairs.append((h, a))
            out.append(ActionSample(text=a, action=a))
        return out


def behaviour_clone(
    model: Any,
    tokenizer: Any,
    env_id: str,
    *,
    episodes: int = 64,
    env_kwargs: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    expert_prob: float = 0.5,
    think: str = "I choose.",
    steps: int = 100,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    prompt: str = "auto",
    history_length: int = 2,
    num_tasks: int | None = None,
    task_offset: int = 0,
    response_prefix: str = "",
    prompt_loss_weight: float = 0.0,
) -> dict[str, float]:
    """Train ``model`` in place to imitate a noisy expert on ``env_id``; returns loss statistics.

    Args:
        model: A causal LM (trained in place).
        tokenizer: Its tokenizer (with a chat template).
        env_id: The env.
        episodes: Demonstration episodes.
        env_kwargs: Env constructor kwargs.
        max_steps: Episode limit of the demonstrations.
        expert_prob: Probability of the expert's action at each turn.
        think: The reasoning text inside ``<think>``.
        steps: Optimizer steps.
        batch_size: Turns per step.
        lr: AdamW learning rate.
        seed: Seed of the demonstrations, the batches and the sampling.
        prompt: Prompt template name.
        history_length: Turns of history in the prompt.
        num_tasks: Demonstrations use ``task_index`` 0..num_tasks-1 (default: one per episode).
        task_offset: Added to every ``task_index`` (``task_offset``..``task_offset + num_tasks - 1``), e.g. to
            clone on tasks not seen in an earlier round.
        response_prefix: The agent's ``extra.response_prefix``: it ends the prompt, and the target is the rest
            of the response (so the loss falls on what the policy generates, not on a fixed frame). Every
            demonstration response must start with it.
        prompt_loss_weight: Weight of an auxiliary language-modelling loss on the prompt tokens (next-token
            prediction over the observations, passages and history). The response loss alone is a few tokens
            per turn; the prompts repeat names (a passage's title in its text, a question's entity in the
            search), which is the signal a from-scratch model needs to learn to copy. 0 (default): responses
            only. The reported losses are the response loss.

    Raises:
        ValueError: A demonstration response does not start with ``response_prefix``.
    """
    import torch

    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent
    from empg_gym.rollout import collect
    from empg_gym.trainers.scoring import at_response_positions, pack, response_logits, token_logprobs_entropy

    demo = NoisyExpert(expert_prob, seed)
    n_tasks = num_tasks or episodes
    tasks = [{"task_index": task_offset + i % n_tasks} for i in range(episodes)]
    collect(demo, env_id, tasks=tasks, seed=seed, env_kwargs=env_kwargs, max_steps=max_steps, progress=False)
    spec = AgentSpec(backend="transformers", model="<in memory>", prompt=prompt, history_length=history_length,
                     extra={"response_prefix": response_prefix} if response_prefix else {})
    agent = TransformersAgent(model, tokenizer, spec)
    samples = []
    for h, a in demo.pairs:
        _, pids = agent.prompt(h)
        response = format_response(a, think)
        if not response.startswith(response_prefix):
            raise ValueError(f"response_prefix {response_prefix!r} does not start the demonstration response "
                             f"{response!r}; use a prefix of '<think>{think}</think>' (plus '<action>' for "
                             "envs whose actions are not tagged)")
        rids = tokenizer(response[len(response_prefix):], add_special_tokens=False)["input_ids"]
        samples.append((pids, rids))
    device = next(model.parameters()).device
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    g = np.random.default_rng(seed)
    pad = tokenizer.pad_token_id or 0
    losses = []
    model.train()
    for _ in range(steps):
        idx = g.choice(len(samples), size=min(batch_size, len(samples)), replace=False)
        pb = pack([samples[i] for i in idx], pad).to(device)
        if prompt_loss_weight:
            full = model(input_ids=pb.input_ids, attention_mask=pb.attention_mask, use_cache=False).logits
            logits = at_response_positions(full, pb)
        else:
            logits = response_logits(model, pb)
        logp, _ = token_logprobs_entropy(logits, pb.resp_ids, with_entropy=False)
        loss = -(logp * pb.resp_mask).sum() / pb.resp_mask.sum()
        total = loss
        if prompt_loss_weight:
            # next-token loss at positions 0 .. p-2 (predicting prompt tokens 1 .. p-1)
            pos = torch.arange(pb.input_ids.shape[1] - 1, device=device)
            pmask = (pos.unsqueeze(0) < pb.last_prompt_index.unsqueeze(1)).float()
            lp_all = torch.log_softmax(full[:, :-1].float(), dim=-1)
            lp = torch.gather(lp_all, -1, pb.input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            total = loss + prompt_loss_weight * (-(lp * pmask).sum() / pmask.sum().clamp(min=1.0))
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return {"first_loss": losses[0], "last_loss": float(np.mean(losses[-5:])), "turns": len(samples)}
