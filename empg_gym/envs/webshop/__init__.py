"""WebShop (Yao et al., 2022) as ``empg/WebShop-v0``: catalog, goals, BM25 search, pages, reward, expert.

Importing this package imports nothing heavy; bm25s loads when the first env builds its index.
"""

from __future__ import annotations

import os

__all__ = ["data_status"]


def data_status() -> str:
    """One line for ``empg-gym envs``: which data the env uses by default."""
    from empg_gym.envs.webshop.catalog import DATA_ENV_VAR

    folder = os.environ.get(DATA_ENV_VAR)
    if not folder:
        return f"generated catalog (no data needed); real data: set {DATA_ENV_VAR}"
    names = ("items_shuffle_1000.json", "items_shuffle_1000.reconstructed.json")
    if any(os.path.isfile(os.path.join(folder, n)) for n in names):
        return f"real data from {DATA_ENV_VAR}={folder}"
    return f"{DATA_ENV_VAR}={folder} lacks items_shuffle_1000.json (see docs/webshop.md)"
