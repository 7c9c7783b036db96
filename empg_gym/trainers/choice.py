"""The exact policy gradient of ``action_mode: choose`` (``TrainConfig.choice_gradient: choice``).

In ``choose`` mode the rollout draws the action ``a_k`` from ``pi(k) = softmax(S / T)[k]`` over the admissible
candidates, where ``S_c`` is candidate ``c``'s score under the model (the sum, or with ``choice_score: mean``
the mean, of the token log-probs of ``"{c}</action>"`` after the prompt) and ``T`` the rollout temperature.
The default token loss (``choice_gradient: tokens``) trains the chosen action's tokens like generated text:
its gradient is ``grad S_k``, which leaves out the normaliser's part ``- sum_c pi(c) grad S_c`` (and the
factor ``1/T``). Its expectation is then not the policy gradient of ``pi``: at a state whose steps mostly
carry negative advantages (the states of failing episodes) it lowers the likelihood of whatever the policy
does there, and what that does to the choice depends on which tokens the candidates share.

``choice_gradient: choice`` trains ``log pi(k)`` itself. Each step becomes one "token" of the loss whose
log-prob is ``log pi(k)`` (recomputed with the prompt prefilled once and its KV cache repeated for the
candidates, as the rollout scores them: :func:`empg_gym.policy.hf.candidate_logprobs`), so the clipped
surrogate, its ratio and the KL term act on the choice distribution, and a step's entropy (EMPG's step
entropy and the entropy bonus) is the entropy of ``pi``, the policy's uncertainty over the admissible actions.
Steps the rollout did not choose from a list (a generated placeholder argument, free generation) keep the
token loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from empg_gym.types import Trajectory

__all__ = ["Choice", "choice_log_prob", "choice_table"]

CLOSING = "</action>"


@dataclass(frozen=True)
class Choice:
    """One step's choice: the candidates' token ids (``"{a}</action>"``) and the index of the chosen one."""

    candidates: tuple[tuple[int, ...], ...]
    chosen: int


def choice_table(trajs: Sequence[Trajectory], tokenizer: Any) -> np.ndarray:
    """A :class:`Choice` per step the rollout chose from an admissible list, else None (``[N]`` object array).

    Row-aligned with ``StepBatch.from_trajectories(trajs)``. A step counts as chosen from its list when its
    response tokens are exactly one candidate's ``"{a}</action>"`` (what ``choose`` records); placeholders
    (``search[<your query>]``) are not candidates.
    """
    from empg_gym.policy.modes import split_placeholder

    cache: dict[str, tuple[int, ...]] = {}

    def ids(action: str) -> tuple[int, ...]:
        if action not in cache:
            cache[action] = tuple(tokenizer(action + CLOSING, add_special_tokens=False)["input_ids"])
        return cache[action]

    rows: list[Choice | None] = []
    for t in trajs:
        for turn in t.turns:
            cands = [a for a in (turn.admissible_actions or ()) if split_placeholder(a) is None]
            row = None
            if cands and turn.token_ids:
                cand_ids = tuple(ids(a) for a in cands)
                resp = tuple(turn.token_ids)
                if resp in cand_ids:
                    row = Choice(cand_ids, cand_ids.index(resp))
            rows.append(row)
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def choice_log_prob(
    model: Any, prompt: Sequence[int], choice: Choice, *, temperature: float, reduce: str = "sum",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log pi(chosen), entropy of pi)`` as 0-d tensors, differentiable when autograd is on.

    ``pi = softmax(S / temperature)`` with ``S_c`` the sum (``reduce="sum"``) or mean (``"mean"``) of candidate
    ``c``'s token log-probs under ``softmax(z)`` (temperature 1, as the rollout scores candidates).
    """
    from empg_gym.policy.hf import candidate_logprobs

    tok, _, mask = candidate_logprobs(model, prompt, choice.candidates, with_entropy=False)
    s = tok.sum(-1)
    if reduce == "mean":
        s = s / mask.sum(-1)
    logpi = torch.log_softmax(s / temperature, dim=0)
    return logpi[choice.chosen], -(logpi.exp() * logpi).sum()
