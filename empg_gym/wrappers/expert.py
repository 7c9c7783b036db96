"""Put the env's scripted expert action in ``info["expert_action"]``.

The ``expert`` agent is stateless like every agent, so it reads its action from the history's info;
this wrapper supplies it after every reset and step.
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium as gym


class ExpertInfo(gym.Wrapper):
    """Adds ``info["expert_action"]`` (None once the episode is over or when the env has no expert)."""

    def _hint(self, info: dict[str, Any], done: bool) -> dict[str, Any]:
        info = dict(info)
        try:
            info["expert_action"] = None if done else cast(Any, self.env.unwrapped).expert_action()
        except NotImplementedError:
            info["expert_action"] = None
        return info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset and add the hint."""
        obs, info = self.env.reset(**kwargs)
        return obs, self._hint(info, False)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step and add the hint."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, float(reward), terminated, truncated, self._hint(info, terminated or truncated)
