"""The agent protocol: a batch of histories in, one sampled action each out.

The protocol is batched (one generate call for all live episodes, as vLLM wants) and the agent is
stateless: the rollout owns the histories. Backends live in :mod:`empg_gym.policy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from empg_gym.types import History, mean_entropy

__all__ = ["ActionSample", "Agent", "AgentError"]


class AgentError(RuntimeError):
    """The agent cannot act at all (a dead endpoint after its retries, a missing model, no expert).

    Distinct from a bad action (which the env scores as invalid): an evaluation that meets this error stops
    with the message and writes no entry, instead of recording a normal-looking 0% result.
    """


@dataclass(frozen=True, slots=True)
class ActionSample:
    """One sampled response.

    Attributes:
        text: The raw response text (for an LLM: reasoning plus action tag).
        action: The env action projected from ``text`` (equal to ``text`` for non-LLM agents).
        format_valid: Whether ``text`` followed the prompt's format.
        format_error: Why the format is invalid (the projection's ``error``; "" when valid).
        prompt: The prompt text the model saw.
        prompt_token_ids: Token ids of the prompt.
        token_ids: Token ids of the response.
        logprobs: Per-token log-probs under the sampling policy.
        entropies: Per-token full-vocabulary entropies of the sampling distribution.
    """

    text: str
    action: str = ""
    format_valid: bool = True
    prompt: str = ""
    prompt_token_ids: tuple[int, ...] = ()
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()
    entropies: tuple[float, ...] = ()
    format_error: str = ""

    @property
    def mean_entropy(self) -> float | None:
        """Mean token entropy of this step (EMPG's step entropy), or None if not recorded."""
        return mean_entropy(self.entropies)


@runtime_checkable
class Agent(Protocol):
    """Anything that maps a batch of histories to one action sample each."""

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """Sample one response per history."""
        ...
