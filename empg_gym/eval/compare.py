"""Paired comparison of two leaderboard entries on the same tasks.

Two agents evaluated on the same task list (same env, split, data and task-list hash) are compared **paired**.
Entries measured on different data (say the real WebShop catalog and the generated one, whose goal ids
coincide) are refused with a message naming both data sources, as are entries that do not record their data
(schema version 1):

- For a metric m, each task t gives a difference ``d_t = mean_A(m | t) - mean_B(m | t)`` (means over the
  task's episodes, one per seed). The estimate is ``mean_t d_t`` and its 95% CI is the percentile bootstrap
  over tasks (2,000 resamples, fixed seed). Pairing removes the task-difficulty variance that two
  independent CIs would carry, which is what makes a small gap between two credit-assignment methods
  detectable.
- Success is also tested with McNemar's exact test on the paired episodes (episode i of A with episode i of
  B: same task, same position in the seed list). Only the discordant pairs count: b = A won and B lost,
  c = A lost and B won. Under the null (no difference) b ~ Binomial(b + c, 1/2); the two-sided p-value is
  ``min(1, 2 * P(X <= min(b, c)))``, and 1 when there are no discordant pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from empg_gym.eval.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_ci

__all__ = ["COMPARED_METRICS", "ComparisonError", "compare_entries", "format_comparison", "mcnemar_exact",
           "paired_bootstrap"]

#: Per-episode fields compared (record key -> metric name).
COMPARED_METRICS: dict[str, str] = {"won": "success", "score": "score", "steps": "steps"}


class ComparisonError(ValueError):
    """The two entries cannot be compared (different tasks, or no per-episode records)."""


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts.

    Args:
        b: Pairs where the first system succeeded and the second failed.
        c: Pairs where the first failed and the second succeeded.

    Returns:
        ``min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; 1.0 when ``b + c == 0``.

    >>> mcnemar_exact(1, 5)  # 2 * (1 + 6) / 64
    0.21875
    """
    if b < 0 or c < 0:
        raise ValueError(f"counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Mean paired difference ``mean(a - b)`` over units with a percentile-bootstrap 95% CI.

    Args:
        a: Per-unit (per-task) values of the first system.
        b: Per-unit values of the second system, same order.
        resamples: Bootstrap resamples.
        seed: Generator seed.

    Returns:
        ``{"diff", "ci": [low, high], "n"}``.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)  # [T]
    if d.ndim != 1:
        raise ValueError("paired_bootstrap expects 1-D sequences")
    lo, hi = bootstrap_ci(lambda idx: d[idx].mean(axis=1), len(d), resamples=resamples, seed=seed)
    return {"diff": float(d.mean()) if len(d) else math.nan, "ci": [lo, hi], "n": int(len(d))}


def _pairs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    for name, e in (("A", a), ("B", b)):
        if e.get("kind") != "measured" or not e.get("per_episode"):
            raise ComparisonError(f"entry {name} ({_label(e)}) has no per-episode records "
                                  "(a 'reported' row?); only measured entries can be compared")
    if a["env"]["id"] != b["env"]["id"] or a["split"] != b["split"]:
        raise ComparisonError(f"different env/split: {a['env']['id']}:{a['split']} vs "
                              f"{b['env']['id']}:{b['split']}")
    from empg_gym.eval.tasks import describe_data

    for name, e in (("A", a), ("B", b)):
        if not e.get("data"):
            raise ComparisonError(f"entry {name} ({_label(e)}) does not record which data its env ran on "
                                  f"(schema version {e.get('schema_version')}); re-run it with this "
                                  "empg-eval (or `empg-leaderboard migrate` it) before comparing")
    if a["data"] != b["data"]:
        raise ComparisonError(f"different data: A ({_label(a)}) ran on {describe_data(a['data'])} but B "
                              f"({_label(b)}) on {describe_data(b['data'])}; results on different data are "
                              "not paired (re-run one of them on the other's data)")
    ha, hb = a["task_list"]["hash"], b["task_list"]["hash"]
    if ha != hb:
        raise ComparisonError(f"different task lists (hash {ha} vs {hb}): a paired comparison needs the same "
                              "tasks; re-run both with the documented task list (see leaderboard/README.md)")

    def key_map(e: Mapping[str, Any]) -> dict[tuple[int, int], Mapping[str, Any]]:
        rank = {s: i for i, s in enumerate(e["seeds"])}
        return {(int(r["task"]), rank[int(r["seed"])]): r for r in e["per_episode"]}

    ka, kb = key_map(a), key_map(b)
    common = sorted(set(ka) & set(kb))
    if not common:
        raise ComparisonError("the entries share no (task, seed index) episodes")
    for k in common:
        if ka[k]["task_id"] != kb[k]["task_id"]:
            raise ComparisonError(f"task {k[0]} is {ka[k]['task_id']!r} in A but {kb[k]['task_id']!r} in B")
    return [(ka[k], kb[k]) for k in common]


def _label(e: Mapping[str, Any]) -> str:
    return str(e.get("agent", {}).get("name", "?"))


def compare_entries(a: Mapping[str, Any], b: Mapping[str, Any], *, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Paired comparison of entry ``a`` against entry ``b`` (differences are A - B).

    Args:
        a: A measured leaderboard entry (dict).
        b: Another measured entry on the same env, split and task list.
        resamples: Bootstrap resamples.
        seed: Bootstrap generator seed.

    Returns:
        ``{"a", "b", "env", "split", "pairs", "tasks", "metrics": {name: {"a", "b", "diff", "ci"}},
        "mcnemar": {"b", "c", "p_value"}}``.

    Raises:
        ComparisonError: If the entries are not comparable.
    """
    pairs = _pairs(a, b)
    tasks = sorted({int(ra["task"]) for ra, _ in pairs})
    out: dict[str, Any] = {"a": _label(a), "b": _label(b), "env": a["env"]["id"], "split": a["split"],
                           "pairs": len(pairs), "tasks": len(tasks), "metrics": {}}
    for key, name in COMPARED_METRICS.items():
        per_a: dict[int, list[float]] = {}
        per_b: dict[int, list[float]] = {}
        for ra, rb in pairs:
            per_a.setdefault(int(ra["task"]), []).append(float(ra[key]))
            per_b.setdefault(int(rb["task"]), []).append(float(rb[key]))
        va = [float(np.mean(per_a[t])) for t in tasks]
        vb = [float(np.mean(per_b[t])) for t in tasks]
        res = paired_bootstrap(va, vb, resamples=resamples, seed=seed)
        out["metrics"][name] = {"a": float(np.mean(va)), "b": float(np.mean(vb)), **res}
    b_ = sum(1 for ra, rb in pairs if ra["won"] and not rb["won"])
    c_ = sum(1 for ra, rb in pairs if not ra["won"] and rb["won"])
    out["mcnemar"] = {"b": b_, "c": c_, "p_value": mcnemar_exact(b_, c_)}
    return out


def format_comparison(res: Mapping[str, Any]) -> str:
    """A human-readable table of :func:`compare_entries`' result."""
    lines = [f"{res['env']} [{res['split']}]: A = {res['a']}  vs  B = {res['b']}  "
             f"({res['pairs']} paired episodes on {res['tasks']} tasks)",
             f"{'metric':<10}{'A':>10}{'B':>10}{'A - B':>10}   95% paired bootstrap CI"]
    for name, m in res["metrics"].items():
        lo, hi = m["ci"]
        lines.append(f"{name:<10}{m['a']:>10.3f}{m['b']:>10.3f}{m['diff']:>+10.3f}   [{lo:+.3f}, {hi:+.3f}]")
    mc = res["mcnemar"]
    lines.append(f"McNemar exact test on success: A-only wins b={mc['b']}, B-only wins c={mc['c']}, "
                 f"p = {mc['p_value']:.4g}")
    return "\n".join(lines)
