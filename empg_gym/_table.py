"""The one terminal table renderer of the package (``empg-gym envs``, ``empg-gym advantages``, leaderboards).

A rich table on stdout; when stdout is not a terminal (piped, CI) the width is 200 columns, so tables are not
squeezed into 80. rich is imported only when a table is printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["print_table"]


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                right: Sequence[str] = (), styles: Sequence[str | None] | None = None) -> None:
    """Print a table.

    Args:
        title: Shown above the table (left-aligned).
        columns: Column headers.
        rows: One sequence of cells per row (cells are shown with ``str``).
        right: Headers of right-aligned columns.
        styles: Optional rich style per row (e.g. ``"dim italic"``).
    """
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col, justify="right" if col in right else "left")
    for i, row in enumerate(rows):
        t.add_row(*(str(c) for c in row), style=styles[i] if styles else None)
    console.print(t)
