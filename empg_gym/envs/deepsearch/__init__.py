"""Deep Search (Search-R1 protocol) as ``empg/DeepSearch-v0``: protocol, generated world, real data, oracle.

Importing this package imports nothing heavy; the retriever loads when the first env is built.
"""

from __future__ import annotations

import os

__all__ = ["data_status"]


def data_status() -> str:
    """One line for ``empg-gym envs``: which data the env uses by default."""
    from empg_gym.envs.deepsearch.data import CORPUS_ENV_VAR, QUESTIONS_ENV_VAR

    q = os.environ.get(QUESTIONS_ENV_VAR)
    if not q and os.environ.get(CORPUS_ENV_VAR):
        return f"{CORPUS_ENV_VAR} is set but {QUESTIONS_ENV_VAR} is not: the env refuses to start (set both)"
    if not q:
        return (
            f"generated multi-hop world (no data needed); real data: set {QUESTIONS_ENV_VAR} "
            f"and {CORPUS_ENV_VAR}"
        )
    c = os.environ.get(CORPUS_ENV_VAR)
    missing = [p for p in (q, c) if p and not os.path.isfile(p)]
    if missing:
        return f"missing file(s): {', '.join(missing)}"
    if not c:
        return f"{QUESTIONS_ENV_VAR}={q} but {CORPUS_ENV_VAR} is unset (needed unless retriever='remote')"
    return f"real data: {q} with corpus {c}"
