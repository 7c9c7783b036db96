"""ALFWorld (Shridhar et al., 2021): a fast simulator and alfworld's own engine.

``empg/ALFWorld-v0`` is the pure-Python simulator; ``empg/ALFWorld-TW-v0`` is alfworld's TextWorld engine
(extra ``alfworld``).

Importing this package imports nothing heavy; alfworld/textworld load only in :mod:`.tw`.
"""

from __future__ import annotations

import os

__all__ = ["data_status", "tw_data_status"]


def _real_count(folder: str) -> int:
    from empg_gym.envs.alfworld.env import real_game_files

    return len(real_game_files(folder, "valid_seen")) + len(real_game_files(folder, "valid_unseen"))


def data_status() -> str:
    """One line for ``empg-gym envs``: which games ``empg/ALFWorld-v0`` plays by default."""
    folder = os.environ.get("ALFWORLD_DATA")
    if not folder:
        return "generated games (no data needed); real games: set ALFWORLD_DATA"
    n = _real_count(folder)
    if n:
        return f"real games from ALFWORLD_DATA={folder} ({n} eval games)"
    return f"ALFWORLD_DATA={folder} has no json_2.1.1 eval games: the env refuses to start (docs/alfworld.md)"


def tw_data_status() -> str:
    """One line for ``empg-gym envs`` about ``empg/ALFWorld-TW-v0``."""
    from empg_gym._optional import is_available

    dep = "alfworld installed" if is_available("alfworld") else 'needs pip install "empg-gym[alfworld]"'
    folder = os.environ.get("ALFWORLD_DATA")
    games = (
        f"real games from ALFWORLD_DATA={folder}"
        if folder and _real_count(folder)
        else "exported generated games (no data needed)"
    )
    return f"{dep}; {games}"
