"""One progress bar for a whole evaluation run (all batches and seeds), on stderr.

Shows tasks done / total (episodes already in a resumed run count as done), success so far, generated
tokens per second and the ETA, so a long evaluation on a slow machine reads at a glance. Batches call
``collect`` with its own per-batch bar switched off. Drawing is the package's one progress bar
(:class:`empg_gym._progress.ProgressBar`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from empg_gym._progress import ProgressBar

__all__ = ["RunProgress"]


class RunProgress:
    """The run's episodes on a progress bar (a no-op when disabled).

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
        self._bar = ProgressBar(total, label, enabled=enabled, completed=done)
        self._bar.status(self._stats())

    def _stats(self) -> str:
        rate = self.wins / self.done if self.done else 0.0
        dt = max(time.perf_counter() - self.t0, 1e-9)
        return f"success {rate:.1%} | {self.tokens / dt:.1f} tok/s"

    def advance(self, record: Mapping[str, Any]) -> None:
        """Count one finished episode from its eval record (``won`` and ``tokens``)."""
        self.done += 1
        self.new += 1
        self.wins += int(bool(record.get("won")))
        self.tokens += int(record.get("tokens") or 0)
        self._bar.advance(status=self._stats())

    def close(self) -> None:
        """Stop drawing."""
        self._bar.close()
