"""Synthetic per-episode records and entries for the eval tests (no env is run)."""

from __future__ import annotations

from typing import Any

from empg_gym.eval.entry import make_entry
from empg_gym.eval.tasks import fallback_provenance, get_task_list

#: The data provenance of the synthetic GuessNumber entries (the toy's built-in tasks).
GUESS_DATA = fallback_provenance("empg/GuessNumber-v0", {})


def guess_records(
    won: list[bool], *, seeds=(0,), score=None, steps=None, invalid=None, tokens=None, task_type=None
) -> list[dict[str, Any]]:
    """Records for GuessNumber's documented test list (16 tasks), seed-major like the harness."""
    n = 16
    recs = []
    for si, s in enumerate(seeds):
        for t in range(n):
            k = si * n + t
            r = {
                "episode": k,
                "seed": s,
                "task": t,
                "task_id": f"guess16-{t + 1}",
                "reset_seed": s * 1_000_000 + t,
                "won": bool(won[k]),
                "score": float(won[k] if score is None else score[k]),
                "steps": 3 if steps is None else steps[k],
                "invalid_steps": 0 if invalid is None else invalid[k],
                "tokens": 0 if tokens is None else tokens[k],
                "return": float(won[k]),
                "truncated": False,
            }
            if task_type is not None:
                r["task_type"] = task_type[t]
            recs.append(r)
    return recs


def guess_entry(name: str, won: list[bool], *, seeds=(0,), data=None, **kw) -> dict[str, Any]:
    tl = get_task_list("empg/GuessNumber-v0", "test")
    return make_entry(
        guess_records(won, seeds=seeds, **kw),
        env_id=tl.env_id,
        split=tl.split,
        env_kwargs=dict(tl.env_kwargs),
        options=tl.options(),
        task_list_name=tl.name,
        seeds=seeds,
        agent_name=name,
        agent_spec={"backend": name},
        spec_hash="0123456789abcdef",
        command=f"empg-eval --agent {name} --env empg/GuessNumber-v0",
        commit="abc1234",
        date="2026-11-25T00:00:00Z",
        package_version="0.1.0",
        wall_time_s=1.0,
        data=GUESS_DATA if data is None else data,
    )


def reported_entry(success: float = 0.737) -> dict[str, Any]:
    return {
        "schema_version": 2,
        "kind": "reported",
        "env": {"id": "empg/GuessNumber-v0", "version": 0},
        "split": "test",
        "agent": {"name": "Paper method"},
        "date": "2025-09-11",
        "metrics": {"success": {"mean": success, "ci": None, "n": None}},
        "reported": {"source": "arXiv 0000.00000 Table 1", "note": "synthetic test row"},
    }
