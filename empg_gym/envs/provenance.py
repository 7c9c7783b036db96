"""Data provenance of an env and bounds checks of its keyword arguments.

Every empg env's ``data_provenance()`` returns a JSON-able dict that identifies exactly what data its
episodes come from, however that data was chosen (a keyword argument or an environment variable)::

    {"kind": "real" | "generated" | "builtin",
     "source": "<short name>",
     "files": {"<relative name>": "sha256:<hex>", ...},
     "params": {<generator parameters, sizes, split, backend choices that change tasks or rewards>}}

It holds no absolute paths, so the same files give the same dict on any machine; the eval harness puts it
into the task-list hash and the leaderboard entry, so runs on different data are never compared.

File hashes (:func:`file_digest`) are computed once per file content: in memory per process, and on disk
in ``<cache>/file-sha256.json`` keyed by the file's absolute path, size and modification time, so a
multi-gigabyte corpus is read once, not at every env construction.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

__all__ = ["check_choice", "check_int", "file_digest", "provenance"]

_MEMO: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()
_DISK_MIN_BYTES = 1 << 20  # smaller files are re-hashed per process (faster than a cache round trip)


def _cache_file() -> Path:
    from empg_gym.retrieval import cache_root

    return cache_root() / "file-sha256.json"


def file_digest(path: str | os.PathLike) -> str:
    """``"sha256:<hex>"`` of a file's bytes, cached (see the module docstring).

    Raises:
        FileNotFoundError: When ``path`` is not a file (the message names it).
    """
    p = Path(path).expanduser().resolve()
    try:
        st = p.stat()
    except OSError:
        raise FileNotFoundError(f"data file {p} not found (needed for the data provenance)") from None
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _MEMO:
            return _MEMO[key]
    disk_key = f"{key[0]}|{key[1]}|{key[2]}"
    disk: dict[str, str] = {}
    if st.st_size >= _DISK_MIN_BYTES:
        try:
            disk = json.loads(_cache_file().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            disk = {}
        if isinstance(disk, dict) and isinstance(disk.get(disk_key), str):
            with _LOCK:
                _MEMO[key] = disk[disk_key]
            return disk[disk_key]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = f"sha256:{h.hexdigest()}"
    with _LOCK:
        _MEMO[key] = digest
    if st.st_size >= _DISK_MIN_BYTES:
        try:
            from empg_gym._io import write_json_atomic

            disk = disk if isinstance(disk, dict) else {}
            disk[disk_key] = digest
            _cache_file().parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(_cache_file(), disk)
        except OSError:
            pass  # a read-only cache only costs a re-hash next time
    return digest


def provenance(
    kind: str,
    source: str,
    files: Mapping[str, str | os.PathLike] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a ``data_provenance()`` dict; ``files`` maps relative names to paths (hashed here).

    >>> provenance("builtin", "GuessNumber", params={"n": 16})
    {'kind': 'builtin', 'source': 'GuessNumber', 'files': {}, 'params': {'n': 16}}
    """
    if kind not in ("real", "generated", "builtin"):
        raise ValueError(f"provenance kind must be 'real', 'generated' or 'builtin', got {kind!r}")
    out = {
        "kind": kind,
        "source": source,
        "files": {name: file_digest(path) for name, path in sorted((files or {}).items())},
        "params": dict(params or {}),
    }
    json.dumps(out)  # must be JSON-able
    return out


@overload
def check_int(name: str, value: Any, lo: int, hi: int | None = None, *, none_ok: Literal[False] = False) -> int: ...


@overload
def check_int(name: str, value: Any, lo: int, hi: int | None = None, *, none_ok: bool) -> int | None: ...


def check_int(name: str, value: Any, lo: int, hi: int | None = None, *, none_ok: bool = False) -> int | None:
    """``value`` as an int in ``[lo, hi]``, else a ValueError naming the option, its range and the value.

    >>> check_int("n", 16, 2, 100_000)
    16
    >>> check_int("n", 10**12, 2, 100_000)
    Traceback (most recent call last):
    ...
    ValueError: n must be an integer in [2, 100000], got 1000000000000
    """
    if value is None and none_ok:
        return None
    rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and hasattr(value, "__index__") and not isinstance(value, bool):  # numpy integers
        try:
            value, ok = int(value.__index__()), True
        except TypeError:
            ok = False
    if not ok or value < lo or (hi is not None and value > hi):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise ValueError(f"{name} must be an integer {'in ' if hi is not None else ''}{rng}, got {shown}")
    return int(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError listing them.

    >>> check_choice("split", "dev", ("train", "test"))
    Traceback (most recent call last):
    ...
    ValueError: split must be one of 'train', 'test'; got 'dev'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value
