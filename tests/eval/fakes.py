"""Test agents wrapping the real baseline agents: they stop the evaluation part-way."""

from __future__ import annotations

import os
import signal

from empg_gym.policy.simple import RandomAgent


class StopAfter:
    """A RandomAgent that raises KeyboardInterrupt (or SIGKILLs its own process) on its ``n``-th act call."""

    needs_expert = False

    def __init__(self, n: int, *, kill: bool = False) -> None:
        self.inner = RandomAgent(name="random")
        self.name = "random"
        self.n, self.kill, self.calls = n, kill, 0

    def set_seed(self, seed: int) -> None:
        self.inner.set_seed(seed)

    def act(self, histories):
        self.calls += 1
        if self.calls == self.n:
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt
        return self.inner.act(histories)
