"""The text-env contract that every empg env shares.

:class:`TextEnv` is a ``gymnasium.Env[str, str]`` that does the bookkeeping every env needs, so an env
only describes its task and dynamics:

- ``reset(seed, options)`` seeds ``self.np_random`` (never the global RNGs), and ``options`` may pick a task
  with ``{"task_id": ...}`` or ``{"task_index": i}``;
- ``step(action)`` accepts *any* object: a non-string, an unparseable or an inadmissible action is an
  *invalid action*: the state does not change, the reward is ``invalid_action_reward`` (0 by default, the
  originals' behaviour; training penalties belong to the trainer config), and the observation is a
  message saying what was wrong;
- ``info`` always carries ``task``, ``task_id``, ``admissible_actions`` (a list, or None when the set is
  open), ``action_valid``, ``won`` and ``score`` (the env's native metric in [0, 1]);
- observations are Unicode text, never rewritten (the spaces are :class:`empg_gym.spaces.UnicodeText`); only
  text longer than ``max_obs_length`` characters is cut;
- ``expert_action()`` gives the scripted expert's next action where the env has one.

Subclasses implement :meth:`_reset_task`, :meth:`_parse`, :meth:`_transition` and
:meth:`_admissible_actions`, and set :attr:`task`, :attr:`task_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from empg_gym.spaces import MAX_ACTION_LENGTH, MAX_OBS_LENGTH, clip, text_space


class InvalidAction(Exception):
    """Raised by :meth:`TextEnv._parse` for an action the env cannot carry out; its message is shown."""


@dataclass(frozen=True, slots=True)
class Transition:
    """What a valid action did.

    Attributes:
        observation: The next observation text.
        reward: The original benchmark's reward for this step.
        terminated: The episode ended in the MDP (goal reached, purchase made, answer given).
        won: The task was accomplished.
        score: The env's native metric in [0, 1] so far (e.g. WebShop's purchase score).
        info: Extra info keys for this step.
    """

    observation: str
    reward: float = 0.0
    terminated: bool = False
    won: bool = False
    score: float = 0.0
    info: dict[str, Any] | None = None


class TextEnv(gym.Env[str, str]):
    """Base class for multi-turn text envs; see the module docstring for the contract."""

    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"], "render_fps": 4}

    #: Reward given for an invalid action. The originals give 0 and leave penalties to training.
    invalid_action_reward: float = 0.0

    def __init__(
        self,
        *,
        render_mode: str | None = None,
        max_obs_length: int = MAX_OBS_LENGTH,
        max_action_length: int = MAX_ACTION_LENGTH,
    ) -> None:
        from empg_gym.envs.provenance import check_int

        check_int("max_obs_length", max_obs_length, 1, 1 << 24)
        check_int("max_action_length", max_action_length, 1, 1 << 20)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            modes = self.metadata["render_modes"]
            raise ValueError(f"render_mode must be one of {modes}, got {render_mode!r}")
        self.render_mode = render_mode
        self.max_obs_length = max_obs_length
        self.observation_space = text_space(max_obs_length)
        self.action_space = text_space(max_action_length)
        self.task: str = ""
        self.task_id: str = ""
        self._obs: str = ""
        self._done = False
        self._won = False
        self._score = 0.0

    # ------------------------------------------------------------------ to implement
    def _reset_task(self, options: dict[str, Any]) -> str:
        """Pick a task (from ``self.np_random`` or ``options``), set up the state, return the first obs.

        Must set :attr:`task` and :attr:`task_id`. ``options`` may hold ``task_id`` or ``task_index``.
        """
        raise NotImplementedError

    def _parse(self, action: str) -> Any:
        """Parse an action string; raise :class:`InvalidAction` with a message when it is not valid now."""
        raise NotImplementedError

    def _transition(self, parsed: Any) -> Transition:
        """Apply a parsed, valid action."""
        raise NotImplementedError

    def _admissible_actions(self) -> list[str] | None:
        """The valid actions in the current state, or None when the action set is open (free text)."""
        return None

    def expert_action(self) -> str:
        """The scripted expert's next action in the current state."""
        raise NotImplementedError(f"{type(self).__name__} has no scripted expert")

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        """Start an episode; ``options`` may hold ``task_id`` or ``task_index`` to pick the task."""
        super().reset(seed=seed)
        self._done = False
        self._won = False
        self._score = 0.0
        obs = self._reset_task(dict(options or {}))
        self._obs = clip(obs, self.max_obs_length)
        info = self._info(action_valid=True)
        if self.render_mode == "human":
            self.render()
        return self._obs, info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        """Take one action; any object is safe, invalid ones come back with ``action_valid=False``."""
        extra: dict[str, Any] = {}
        if self._done:
            message = "The episode is over; call reset() to start a new one."
            return self._invalid(message)
        if not isinstance(action, str):
            return self._invalid(f"Invalid action: expected a string, got {type(action).__name__}.")
        try:
            parsed = self._parse(action)
        except InvalidAction as e:
            return self._invalid(str(e))
        t = self._transition(parsed)
        self._obs = clip(t.observation, self.max_obs_length)
        self._won = self._won or t.won
        self._score = t.score
        self._done = t.terminated
        if t.info:
            extra.update(t.info)
        info = self._info(action_valid=True, **extra)
        if self.render_mode == "human":
            self.render()
        return self._obs, float(t.reward), bool(t.terminated), False, info

    def render(self) -> str | None:
        """``ansi``: return the current observation; ``human``: print it."""
        if self.render_mode == "ansi":
            return self._obs
        if self.render_mode == "human":
            print(self._obs)
        return None

    # ------------------------------------------------------------------ helpers
    def _invalid(self, message: str) -> tuple[str, float, bool, bool, dict]:
        obs = clip(message, self.max_obs_length)
        info = self._info(action_valid=False, message=obs)
        return obs, float(self.invalid_action_reward), self._done, False, info

    def _info(self, *, action_valid: bool, **extra: Any) -> dict[str, Any]:
        admissible = None if self._done else self._admissible_actions()
        info: dict[str, Any] = {
            "task": self.task,
            "task_id": self.task_id,
            "admissible_actions": admissible,
            "action_valid": action_valid,
            "won": self._won,
            "score": float(self._score),
        }
        info.update(extra)
        return info

    def _pick_index(self, options: dict[str, Any], ids: list[str] | tuple[str, ...]) -> int:
        """Choose a task index from ``options`` (``task_id`` / ``task_index``) or ``self.np_random``."""
        n = len(ids)
        if n == 0:
            raise ValueError(f"{type(self).__name__} has no tasks in this split")
        if options.get("task_id") is not None:
            tid = str(options["task_id"])
            try:
                return list(ids).index(tid)
            except ValueError:
                raise ValueError(f"unknown task_id {tid!r} for {type(self).__name__}") from None
        if options.get("task_index") is not None:
            i = int(options["task_index"])
            if not 0 <= i < n:
                raise ValueError(f"task_index {i} out of range [0, {n})")
            return i
        return int(self.np_random.integers(n))
