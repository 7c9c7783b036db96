"""Evaluation metrics with 95% bootstrap confidence intervals.

An evaluation is a list of per-episode records (:func:`episode_record` builds one from a
:class:`~empg_gym.types.Trajectory`). :func:`summarize` turns them into the ``metrics`` block of a leaderboard
entry:

- ``success``: fraction of episodes won (``info["won"]``);
- ``score``: mean of the env's native score in [0, 1] (``info["score"]``: WebShop's purchase score, ALFWorld's
  success, DeepSearch's exact match);
- ``steps``: mean episode length in agent turns;
- ``invalid_action_rate``: invalid turns / all turns (a turn is invalid when the env rejected the action or
  the response broke the prompt's format), pooled over episodes;
- ``tokens_per_episode``: mean generated (response) tokens per episode (0 for model-free agents).

Confidence intervals: the percentile bootstrap (2,000 resamples, fixed generator seed, so an entry is
reproducible byte for byte). The resampling unit is the **task**, not the episode: when an evaluation runs
several seeds, all episodes of a task are drawn together (a cluster bootstrap), because episodes of the same
task are not independent. With one seed this is the ordinary episode bootstrap. Ratios (the invalid-action
rate) are recomputed as ratios of resampled sums, not as means of per-episode ratios.

Breakdowns: ``per_type`` (success per ``info["task_type"]``, e.g. ALFWorld's six types), ``per_source``
(success, score and, where the env reports them, ``em``/``f1`` per ``info["data_source"]``, e.g. DeepSearch's
QA data sets), and ``per_seed`` (success and score of each evaluation seed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from empg_gym.types import Trajectory

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "bootstrap_ci",
    "episode_record",
    "metric",
    "summarize",
]

#: Bootstrap resamples for every CI in an entry.
BOOTSTRAP_RESAMPLES = 2000
#: Generator seed of the bootstrap (fixed: the same records give the same entry).
BOOTSTRAP_SEED = 0
#: Info keys copied from an episode's final info into its record when present.
_INFO_KEYS = ("task_type", "data_source", "em", "f1")


def episode_record(traj: Trajectory, *, episode: int, seed: int, task_position: int) -> dict[str, Any]:
    """The JSON-ready record of one evaluated episode.

    Args:
        traj: The finished trajectory.
        episode: Global episode index in the evaluation (seed-major, then task position).
        seed: The evaluation seed this episode belongs to.
        task_position: Position of the task in the task list.

    Returns:
        A flat dict: ``episode``, ``seed``, ``task``, ``task_id``, ``reset_seed``, ``won``, ``score``,
        ``steps``, ``invalid_steps``, ``tokens``, ``return``, ``truncated``, plus ``task_type``,
        ``data_source``, ``em``, ``f1`` when the env's final info has them.
    """
    last = traj.turns[-1].info if traj.turns else {}
    rec: dict[str, Any] = {
        "episode": int(episode),
        "seed": int(seed),
        "task": int(task_position),
        "task_id": traj.task_id,
        "reset_seed": traj.seed,
        "won": bool(traj.won),
        "score": float(traj.score),
        "steps": len(traj.turns),
        "invalid_steps": sum(1 for t in traj.turns if not (t.action_valid and t.format_valid)),
        "tokens": sum(len(t.token_ids) for t in traj.turns),
        "return": traj.total_reward,
        "truncated": bool(traj.turns[-1].truncated) if traj.turns else False,
    }
    for key in _INFO_KEYS:
        value = last.get(key)
        if value is None:
            continue
        rec[key] = float(value) if key in ("em", "f1") else str(value)
    return rec


def bootstrap_ci(
    stat: Callable[[np.ndarray], np.ndarray],
    n_units: int,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic over ``n_units`` resampling units.

    Args:
        stat: Vectorised statistic: takes an index array ``[R, n_units]`` (rows are resamples with
            replacement) and returns ``[R]`` values.
        n_units: Number of units (tasks) to resample.
        resamples: Number of resamples R.
        seed: Generator seed.
        level: Coverage (0.95 for a 95% interval).

    Returns:
        ``(low, high)``; ``(nan, nan)`` when there are no units.

    >>> vals = np.array([0.0, 1.0])
    >>> bootstrap_ci(lambda idx: vals[idx].mean(axis=1), 2)
    (0.0, 1.0)
    """
    if n_units == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_units, size=(resamples, n_units))  # [R, n]
    values = np.asarray(stat(idx), dtype=np.float64)  # [R]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (math.nan, math.nan)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return (_round(lo), _round(hi))


def _round(x: float) -> float:
    # 12 significant digits: stable JSON across platforms without hiding real differences.
    return float(f"{float(x):.12g}")


def metric(mean: float, ci: tuple[float, float] | None, n: int) -> dict[str, Any]:
    """One metric as stored in an entry: ``{"mean", "ci": [low, high] | None, "n"}``."""
    ok = ci is not None and all(math.isfinite(c) for c in ci)
    return {"mean": _round(mean) if math.isfinite(mean) else None, "ci": list(ci) if ok and ci else None,
            "n": int(n)}


def _by_task(records: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Group records by task position (the bootstrap unit), in task order."""
    groups: dict[int, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(int(r["task"]), []).append(r)
    return [groups[k] for k in sorted(groups)]


def _ratio_metric(units: list[list[Mapping[str, Any]]], num: Callable[[Mapping[str, Any]], float],
                  den: Callable[[Mapping[str, Any]], float], **kw: Any) -> dict[str, Any]:
    """sum(num) / sum(den) over the episodes, with a cluster-bootstrap CI (resampling task units)."""
    n_ep = sum(len(u) for u in units)
    nums = np.array([sum(num(r) for r in u) for u in units], dtype=np.float64)  # [T]
    dens = np.array([sum(den(r) for r in u) for u in units], dtype=np.float64)  # [T]
    if dens.sum() == 0:
        return metric(math.nan, None, n_ep)

    def stat(idx: np.ndarray) -> np.ndarray:
        d = dens[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return nums[idx].sum(axis=1) / d

    return metric(nums.sum() / dens.sum(), bootstrap_ci(stat, len(units), **kw), n_ep)


def _field_getter(name: str) -> Callable[[Mapping[str, Any]], float]:
    """``record -> float(record.get(name, 0.0))``."""
    return lambda r: float(r.get(name, 0.0))


def _mean_metric(units: list[list[Mapping[str, Any]]], value: Callable[[Mapping[str, Any]], float],
                 **kw: Any) -> dict[str, Any]:
    """Mean of ``value`` over episodes (pooled over seeds), CI by resampling task units."""
    return _ratio_metric(units, value, lambda r: 1.0, **kw)


def summarize(records: Iterable[Mapping[str, Any]], **kw: Any) -> dict[str, Any]:
    """Metrics, breakdowns and CIs of an evaluation.

    Args:
        records: Per-episode records (:func:`episode_record`).
        **kw: Passed to :func:`bootstrap_ci` (``resamples``, ``seed``).

    Returns:
        ``{"metrics": {...}, "per_type": {...}, "per_source": {...}, "per_seed": {...}}``; each metric is
        ``{"mean", "ci", "n"}`` (see :func:`metric`). ``per_type``/``per_source`` are empty when no episode
        carries ``task_type``/``data_source``.
    """
    records = list(records)
    units = _by_task(records)
    out: dict[str, Any] = {
        "metrics": {
            "success": _mean_metric(units, lambda r: float(r["won"]), **kw),
            "score": _mean_metric(units, lambda r: float(r["score"]), **kw),
            "steps": _mean_metric(units, lambda r: float(r["steps"]), **kw),
            "invalid_action_rate": _ratio_metric(units, lambda r: float(r["invalid_steps"]),
                                                 lambda r: float(r["steps"]), **kw),
            "tokens_per_episode": _mean_metric(units, lambda r: float(r["tokens"]), **kw),
        },
        "per_type": {},
        "per_source": {},
        "per_seed": {},
    }
    for key, block in (("task_type", "per_type"), ("data_source", "per_source")):
        names = sorted({str(r[key]) for r in records if key in r})
        for name in names:
            sub = _by_task([r for r in records if r.get(key) == name])
            entry = {"success": _mean_metric(sub, lambda r: float(r["won"]), **kw)}
            if block == "per_source":
                entry["score"] = _mean_metric(sub, lambda r: float(r["score"]), **kw)
                for m in ("em", "f1"):
                    if any(m in r for u in sub for r in u):
                        entry[m] = _mean_metric(sub, _field_getter(m), **kw)
            out[block][name] = entry
    for s in sorted({int(r["seed"]) for r in records}):
        rows = [r for r in records if int(r["seed"]) == s]
        out["per_seed"][str(s)] = {
            "success": _round(float(np.mean([float(r["won"]) for r in rows]))),
            "score": _round(float(np.mean([float(r["score"]) for r in rows]))),
            "n": len(rows),
        }
    return out
