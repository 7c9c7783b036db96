"""Servers: ``empg-serve retrieval`` (Search-R1's ``/retrieve`` API over a corpus).

``empg-serve <service> [args]`` (also ``empg-gym serve <service>``) dispatches to a service's ``main``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: service -> ("module:function", help)
SERVICES: dict[str, tuple[str, str]] = {
    "retrieval": (
        "empg_gym.serve.retrieval:main",
        "Search-R1 /retrieve API over a corpus (bm25s/pyserini/dense)",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-serve <service>``: run a server."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SERVICES:
        print("usage: empg-serve <service> [args]\n\nservices:")
        for name, (_, help_) in SERVICES.items():
            print(f"  {name:<12}{help_}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    mod, fn = SERVICES[argv[0]][0].split(":")
    return int(getattr(importlib.import_module(mod), fn)(argv[1:]) or 0)
