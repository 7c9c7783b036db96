"""GuessNumber: find a hidden integer with higher/lower feedback.

A toy multi-turn env for tests and trainer smoke runs. The hidden number is drawn from ``self.np_random``
in ``[1, n]``; each turn the agent says ``guess K`` and hears whether the number is higher or lower.
Reward 1 when the guess is right (sparse, terminal), 0 otherwise. The optimal policy is binary search,
which needs at most ``ceil(log2(n + 1))`` guesses; the scripted expert plays it.

With ``n=16`` (the default) an episode takes up to 5 guesses; ``max_episode_steps`` is 8.
"""

from __future__ import annotations

import re
from typing import Any

from empg_gym.envs.base import InvalidAction, TextEnv, Transition
from empg_gym.envs.provenance import check_int, provenance

_GUESS = re.compile(r"^\s*guess\s+(-?\d{1,12})\s*$", re.IGNORECASE)


class GuessNumberEnv(TextEnv):
    """Guess a number in ``[1, n]``; feedback says ``higher`` or ``lower``.

    Args:
        n: Size of the range.
        num_tasks: Number of distinct tasks (hidden numbers are ``1 + i % n`` for task ``i``).
        render_mode: ``"ansi"`` or ``"human"``.

    >>> env = GuessNumberEnv(n=8)
    >>> obs, info = env.reset(seed=0, options={"task_index": 2})
    >>> env.step("guess 4")[0]
    'Your guess 4 is too high. The number is lower.'
    >>> env.step("guess 3")[1:3]
    (1.0, True)
    """

    #: Largest ``n``: one task per hidden number, so the task-id list grows with ``n``.
    MAX_N = 100_000

    def __init__(self, n: int = 16, render_mode: str | None = None) -> None:
        n = check_int("n", n, 2, self.MAX_N)
        super().__init__(render_mode=render_mode)
        self.n = n
        self._ids = tuple(f"guess{n}-{k}" for k in range(1, n + 1))
        self._target = 1
        self._lo, self._hi = 1, n

    def data_provenance(self) -> dict[str, Any]:
        """Built-in tasks: the hidden numbers ``1..n`` (see :mod:`empg_gym.envs.provenance`)."""
        return provenance("builtin", "GuessNumber", params={"n": self.n})

    def _reset_task(self, options: dict[str, Any]) -> str:
        i = self._pick_index(options, self._ids)
        self._target = i + 1
        self._lo, self._hi = 1, self.n
        self.task_id = self._ids[i]
        self.task = f"Guess the hidden integer between 1 and {self.n}. Say 'guess K'."
        return f"{self.task} After each guess you will hear whether the number is higher or lower."

    def _parse(self, action: str) -> int:
        m = _GUESS.match(action)
        if m is None:
            raise InvalidAction(f"Invalid action. Say 'guess K' with an integer K between 1 and {self.n}.")
        k = int(m.group(1))
        if not 1 <= k <= self.n:
            raise InvalidAction(f"Invalid action: {k} is not between 1 and {self.n}.")
        return k

    def _transition(self, k: int) -> Transition:
        if k == self._target:
            return Transition(
                f"Correct! The number was {k}.", reward=1.0, terminated=True, won=True, score=1.0
            )
        if k > self._target:
            self._hi = min(self._hi, k - 1)
            return Transition(f"Your guess {k} is too high. The number is lower.")
        self._lo = max(self._lo, k + 1)
        return Transition(f"Your guess {k} is too low. The number is higher.")

    def _admissible_actions(self) -> list[str]:
        return [f"guess {k}" for k in range(1, self.n + 1)]

    def expert_action(self) -> str:
        """Binary search over the range still consistent with the feedback."""
        return f"guess {(self._lo + self._hi) // 2}"
