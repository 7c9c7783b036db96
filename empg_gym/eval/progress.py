"""One progress bar for a whole evaluation run (all batches and seeds), on stderr.

Shows tasks done / total (episodes already in a resumed run count as done), success so far, generated
tokens per second and the ETA, so a long evaluation on a slow machine reads at a glance. Batches call
``collect`` with its own per-batch bar switched off.
"""

from __future__ import annotations

import time
from typing import Any

from empg_gym.types import Trajectory

__all__ = ["RunProgress"]


class RunProgress:
    """A rich progress bar over a run's episodes (a no-op when disabled).

    Args:
        total: Episodes in the run.
        done: Episodes already finished (resume).
        wins: Successes among them.
        label: Text in front of the bar.
        enabled: Show the bar.
    """

    def __init__(self, total: int, *, done: int = 0, wins: int = 0, label: str = "eval",
                 enabled: bool = True) -> None:
        self.total, self.done, self.wins = total, done, wins
        self.new = 0
        self.tokens = 0
        self.t0 = time.perf_counter()
        self._p: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("ETA"),
                           TimeRemainingColumn(), console=Console(stderr=True), transient=False)
        self._task = self._p.add_task(label, total=total, completed=done, stats=self._stats())
        self._p.start()

    def _stats(self) -> str:
        rate = self.wins / self.done if self.done else 0.0
        dt = max(time.perf_counter() - self.t0, 1e-9)
        return f"success {rate:.1%} | {self.tokens / dt:.1f} tok/s"

    def advance(self, traj: Trajectory) -> None:
        """Count one finished episode."""
        self.done += 1
        self.new += 1
        self.wins += int(traj.won)
        self.tokens += sum(len(t.token_ids) for t in traj.turns)
        if self._p is not None:
            self._p.update(self._task, advance=1, stats=self._stats())

    def close(self) -> None:
        """Stop drawing."""
        if self._p is not None:
            self._p.stop()
