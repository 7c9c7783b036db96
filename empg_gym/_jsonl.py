"""The one JSONL reader/appender of the package (training metrics, evaluation run files).

Both writers append one JSON object per line and must survive a kill at any moment: :class:`JsonlAppender`
flushes every line (and fsyncs with ``fsync=True``) and, when a previous writer was killed mid-line, starts on a
fresh line so the torn fragment never glues onto the next record. :func:`read_jsonl` returns the complete
objects and skips torn or non-object lines (a torn line can only be the last one a killed writer wrote).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["JsonlAppender", "append_jsonl", "read_jsonl"]


class JsonlAppender:
    """Append JSON objects to ``path``, one per line, each flushed (and fsynced with ``fsync=True``).

    Args:
        path: The file (created with its parent folders when missing).
        fsync: fsync after every line (a machine crash then loses at most the current line).
        sort_keys: Write keys sorted.
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False, sort_keys: bool = False) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if p.exists() and p.stat().st_size:
            with p.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
        self._f = p.open("a", encoding="utf-8")
        self._fsync = fsync
        self._sort = sort_keys
        if torn:  # a killed writer's half line must not glue onto the next record
            self._f.write("\n")

    def write(self, rec: Mapping[str, Any]) -> None:
        """Append one object."""
        self._f.write(json.dumps(dict(rec), sort_keys=self._sort) + "\n")
        self._f.flush()
        if self._fsync:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def append_jsonl(path: str | os.PathLike, rec: Mapping[str, Any], *, fsync: bool = True) -> None:
    """Append one object to ``path`` (see :class:`JsonlAppender`)."""
    with JsonlAppender(path, fsync=fsync) as w:
        w.write(rec)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The complete JSON objects of ``path``, in order (``[]`` when it does not exist)."""
    p = Path(path)
    if not p.is_file():
        return []
    out = []
    with p.open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line from a kill mid-write
            if isinstance(rec, dict):
                out.append(rec)
    return out
