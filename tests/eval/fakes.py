"""Test agents wrapping the real baseline agents: they stop, block or fail the evaluation part-way."""

from __future__ import annotations

import os
import signal
import sys

from empg_gym.agent import ActionSample
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


class WaitOnStdin(StopAfter):
    """A RandomAgent that, on its first act call, prints ``ready`` and blocks until a line arrives on stdin.

    Lets a test hold an evaluation open (and its lock) for exactly as long as it needs, without sleeping.
    """

    def __init__(self) -> None:
        super().__init__(0)

    def act(self, histories):
        self.calls += 1
        if self.calls == 1:
            print("ready", flush=True)
            sys.stdin.readline()
        return self.inner.act(histories)


class NeverValid:
    """An agent whose every answer breaks the format (what an untrained small LLM often does)."""

    needs_expert = False
    name = "mute"

    def act(self, histories):
        return [ActionSample(text="hmm", action="", format_valid=False) for _ in histories]
