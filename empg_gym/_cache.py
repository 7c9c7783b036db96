"""The one cache folder of the package (retrieval indexes, exported ALFWorld games, converted models).

``cache_root()`` is ``$EMPG_CACHE``; else ``$EMPG_GYM_CACHE`` (an older name, still honoured); else
``$XDG_CACHE_HOME/empg_gym``; else ``~/.cache/empg_gym``. Callers add their own sub-folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root"]

#: The environment variable that moves the cache (``EMPG_GYM_CACHE`` is an alias).
CACHE_ENV = "EMPG_CACHE"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir`` when given, else the package's cache folder (see the module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    for var in (CACHE_ENV, "EMPG_GYM_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "empg_gym"
