"""Baseline agents without a model: uniformly random admissible actions, and the env's scripted expert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from empg_gym.agent import ActionSample
from empg_gym.types import History

if TYPE_CHECKING:
    from empg_gym.policy import AgentSpec

__all__ = ["ExpertAgent", "RandomAgent"]


class RandomAgent:
    """Plays a uniformly random action from ``history.admissible_actions``.

    When an env has an open action set (``admissible_actions`` is None) there is nothing to choose from: the
    agent answers an empty, format-invalid action (the env reports it as invalid).

    Args:
        seed: Seed of the agent's own generator (:meth:`set_seed` re-seeds it; the rollout does).
        name: Display name.

    >>> from empg_gym.types import History
    >>> h = History("empg/KeyDoor-v0", "t", (), "obs", ("go north", "go south"))
    >>> RandomAgent(seed=0).act([h])[0].action in ("go north", "go south")
    True
    """

    needs_expert = False

    def __init__(self, seed: int = 0, name: str = "random") -> None:
        self.name = name
        self.set_seed(seed)

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> RandomAgent:
        """Build from an :class:`~empg_gym.policy.AgentSpec`."""
        return cls(seed=spec.seed, name=spec.name or "random")

    def set_seed(self, seed: int) -> None:
        """Re-seed the generator."""
        self._rng = np.random.default_rng(seed)

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """One uniformly random admissible action per history."""
        out = []
        for h in histories:
            if not h.admissible_actions:
                out.append(ActionSample(text="", action="", format_valid=False))
                continue
            a = h.admissible_actions[int(self._rng.integers(len(h.admissible_actions)))]
            out.append(ActionSample(text=a, action=a))
        return out


class ExpertAgent:
    """Plays the env's scripted expert: ``history.info["expert_action"]``.

    ``needs_expert = True`` makes :func:`empg_gym.rollout.collect` wrap the envs in
    :class:`~empg_gym.wrappers.ExpertInfo`, which supplies that key. Where there is no expert action the agent
    answers an empty, format-invalid action.
    """

    needs_expert = True

    def __init__(self, name: str = "expert") -> None:
        self.name = name

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> ExpertAgent:
        """Build from an :class:`~empg_gym.policy.AgentSpec`."""
        return cls(name=spec.name or "expert")

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """The expert's action for each history."""
        out = []
        for h in histories:
            a = h.info.get("expert_action")
            if not isinstance(a, str):
                out.append(ActionSample(text="", action="", format_valid=False))
            else:
                out.append(ActionSample(text=a, action=a))
        return out
