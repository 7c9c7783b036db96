"""The one progress bar of the package: a rich bar on stderr with a free-text status column, or nothing.

Rollouts (episodes) and training (iterations) show it; ``enabled=False`` (``progress: false``) makes every
call a no-op, so callers never branch on it. rich is imported only when a bar is shown.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """``label | bar | done/total | status | elapsed | ETA`` on stderr.

    Args:
        total: Units of work.
        label: Text in front of the bar.
        enabled: Show it (False: every method does nothing).
        completed: Units already done (a resumed run).
    """

    def __init__(self, total: int, label: str, *, enabled: bool = True, completed: int = 0) -> None:
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
                           TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"),
                           TimeRemainingColumn(), console=Console(stderr=True), transient=False)
        self._task = self._p.add_task(label, total=total, completed=completed, status="")
        self._p.start()

    def advance(self, n: int = 1, status: str | None = None) -> None:
        """Mark ``n`` units done (and replace the status text when given)."""
        if self._p is not None:
            kw = {} if status is None else {"status": status}
            self._p.update(self._task, advance=n, **kw)

    def status(self, text: str) -> None:
        """Replace the status text."""
        if self._p is not None:
            self._p.update(self._task, status=text)

    def close(self) -> None:
        """Stop drawing (idempotent)."""
        if self._p is not None:
            self._p.stop()
            self._p = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
