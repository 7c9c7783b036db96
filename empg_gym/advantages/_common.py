"""Vectorised helpers shared by the estimators: validation, protocols, per-trajectory and per-group sums.

All functions take flat per-step arrays (``[N]``) and never loop over steps in Python.

Protocols (``docs/estimators.md`` has the full table). Every built-in estimator takes ``protocol``:

- ``"verl-agent"`` (default): the conventions of verl-agent, the framework the EMPG and GiGPO papers ran
  on. Each step is a *row* whose score is its episode's return minus the step's own penalty
  (``StepBatch.penalty``); group statistics pool one score per row (``compute_mean_std_cross_steps``), so long
  episodes weigh more; a group of one row keeps its raw score (mean 0, std 1); whitening is per token
  (``StepBatch.n_tokens``) with ``rsqrt(unbiased var + 1e-8)``.
- ``"trajectory"``: one score per trajectory, the penalty is part of the step reward (and so of every
  return that contains the step), a group of one trajectory gets 0, whitening is per step with the biased
  std + eps.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import PROTOCOLS
from empg_gym.types import StepBatch


def finite(name: str, arr: np.ndarray | None, *, required_by: str = "") -> np.ndarray:
    """``arr`` as float64, or a clear ``ValueError`` if it is missing or holds NaN/inf."""
    if arr is None:
        who = f" (needed by {required_by})" if required_by else ""
        raise ValueError(f"StepBatch.{name} is None{who}")
    a = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        bad = np.flatnonzero(~np.isfinite(a))
        raise ValueError(
            f"StepBatch.{name} has {bad.size} non-finite value(s) (NaN or inf), "
            f"first at step index {bad[0]}: "
            f"{a[bad[0]]!r}"
        )
    return a


#: What a group of one member (one row under verl-agent, one trajectory otherwise) gets.
SINGLETONS = ("raw", "zero")


def check_protocol(protocol: str) -> str:
    """``protocol`` if it is a known protocol, else a ``ValueError`` naming the known ones."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return protocol


def resolve_singleton(singleton: str | None, protocol: str) -> str:
    """The one-member-group convention: ``singleton`` if given, else the protocol's (verl-agent: raw)."""
    if singleton is None:
        return "raw" if protocol == "verl-agent" else "zero"
    if singleton not in SINGLETONS:
        raise ValueError(f"singleton must be one of {SINGLETONS} or None (the protocol's), got {singleton!r}")
    return singleton


def penalties(batch: StepBatch) -> np.ndarray:
    """``StepBatch.penalty`` as float64 ``[N]`` (zeros when None); rejects NaN/inf."""
    if batch.penalty is None:
        return np.zeros(len(batch))
    return finite("penalty", batch.penalty)


def protocol_rewards(batch: StepBatch, protocol: str) -> np.ndarray:
    """The per-step rewards that enter returns.

    ``reward - penalty`` under ``trajectory``; ``reward`` under ``verl-agent``, where the penalty lands on the
    step's own row score instead (see :func:`row_scores`).
    """
    reward = check_batch(batch)
    return reward - penalties(batch) if protocol == "trajectory" else reward


def row_scores(batch: StepBatch) -> tuple[np.ndarray, np.ndarray]:
    """verl-agent's step rows: ``(score [N], dense group index [N])``.

    A row's score is its episode's return (sum of ``reward``, without penalties) minus the row's own
    ``penalty``: the episode reward sits on every step row and the invalid-action penalty on the offending
    row only.
    """
    tidx, ret, tg = trajectory_returns(batch)
    return ret[tidx] - penalties(batch), tg[tidx]


def token_weights(batch: StepBatch) -> np.ndarray:
    """Per-step token counts ``[N]`` as float64 (``StepBatch.n_tokens``; ones when None)."""
    if batch.n_tokens is None:
        return np.ones(len(batch))
    w = np.asarray(batch.n_tokens, dtype=np.float64)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("StepBatch.n_tokens must be finite and >= 0")
    return w


def whiten(x: np.ndarray, batch: StepBatch, *, protocol: str, eps: float) -> np.ndarray:
    """Normalise step advantages ``x [N]`` over the batch, as the protocol does.

    ``verl-agent``: per token, as verl's ``masked_whiten``: every step counts ``n_tokens`` times;
    ``(x - mean) / sqrt(var + eps)`` with the unbiased token variance (zeros when the batch has fewer than two
    tokens). ``trajectory``: per step, ``(x - mean) / (std + eps)`` with the biased std.
    """
    if len(x) == 0:
        return x
    if protocol == "trajectory":
        return (x - x.mean()) / (x.std() + eps)
    w = token_weights(batch)
    tot = w.sum()
    if tot <= 1:  # no variance to speak of (verl raises here); nothing to learn from either
        return np.zeros_like(x)
    mean = float((w * x).sum() / tot)
    var = float((w * (x - mean) ** 2).sum() / (tot - 1))
    return (x - mean) / np.sqrt(var + eps)


def check_batch(batch: StepBatch) -> np.ndarray:
    """Validate rewards and return them as float64."""
    return finite("reward", batch.reward)


def dense(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Map arbitrary ids to ``0..K-1``: ``(inverse [N], K)``."""
    if len(ids) == 0:
        return np.zeros(0, np.int64), 0
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu":
        lo, hi = int(ids.min()), int(ids.max())
        if hi - lo < 4 * len(ids) + 1024:  # cheap path: bincount-based compaction, no sort
            present = np.zeros(hi - lo + 1, bool)
            present[ids - lo] = True
            remap = np.cumsum(present) - 1
            return remap[ids - lo].astype(np.int64), int(present.sum())
    uniq, inv = np.unique(ids, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), len(uniq)


def segment_mean(x: np.ndarray, seg: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment ``(mean [k], count [k])`` of ``x [N]`` with segment index ``seg [N]``."""
    cnt = np.bincount(seg, minlength=k).astype(np.float64)
    tot = np.bincount(seg, weights=x, minlength=k)
    return tot / np.maximum(cnt, 1.0), cnt


def segment_std(
    x: np.ndarray, seg: np.ndarray, k: int, mean: np.ndarray, cnt: np.ndarray, ddof: int
) -> np.ndarray:
    """Per-segment standard deviation (``ddof`` 1 = unbiased, as ``torch.std``); 0 where undefined."""
    sq = np.bincount(seg, weights=(x - mean[seg]) ** 2, minlength=k)
    denom = cnt - ddof
    return np.sqrt(np.where(denom > 0, sq / np.where(denom > 0, denom, 1.0), 0.0))


def trajectory_returns(
    batch: StepBatch, reward: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undiscounted trajectory returns (of ``reward [N]``, default ``batch.reward``).

    Returns:
        ``(tidx [N], returns [T], traj_group [T])``: each step's dense trajectory index, each trajectory's
        sum of rewards, and each trajectory's dense group index.
    """
    if reward is None:
        reward = check_batch(batch)
    tidx, t = dense(batch.traj_id)
    ret = np.bincount(tidx, weights=reward, minlength=t)
    gidx, _ = dense(batch.group_id)
    tg = np.zeros(t, np.int64)
    tg[tidx] = gidx
    if t and np.any(gidx != tg[tidx]):
        raise ValueError("StepBatch: a trajectory's steps carry different group_id values")
    return tidx, ret, tg


def order_by_step(batch: StepBatch) -> np.ndarray | None:
    """A permutation sorting steps by (trajectory, step), or None if they are already in that order.

    Steps must be contiguous 0..n-1 within each trajectory.
    """
    tid, step = np.asarray(batch.traj_id), np.asarray(batch.step)
    n = len(tid)
    if n == 0:
        return None
    same = tid[1:] == tid[:-1]
    ordered = bool(np.all(np.where(same, step[1:] == step[:-1] + 1, step[1:] == 0)) and step[0] == 0)
    if ordered:
        return None
    perm = np.lexsort((step, tid))
    s, t = step[perm], tid[perm]
    same = t[1:] == t[:-1]
    if not (np.all(np.where(same, s[1:] == s[:-1] + 1, s[1:] == 0)) and s[0] == 0):
        raise ValueError("StepBatch.step must run 0, 1, ..., n-1 within every trajectory")
    return perm


def next_in_trajectory(batch: StepBatch) -> tuple[np.ndarray, np.ndarray]:
    """For each step, the index of the next step of its trajectory.

    Returns:
        ``(nxt [N], has_next [N])``; ``nxt`` is meaningful only where ``has_next``.
    """
    n = len(batch)
    perm = order_by_step(batch)
    tid = np.asarray(batch.traj_id) if perm is None else np.asarray(batch.traj_id)[perm]
    has = np.zeros(n, bool)
    if n:
        has[:-1] = tid[1:] == tid[:-1]
    nxt_sorted = np.minimum(np.arange(n) + 1, max(n - 1, 0))
    if perm is None:
        return nxt_sorted, has
    nxt = np.empty(n, np.int64)
    hasn = np.empty(n, bool)
    nxt[perm] = perm[nxt_sorted]
    hasn[perm] = has
    return nxt, hasn


def discounted_returns(batch: StepBatch, reward: np.ndarray, gamma: float) -> np.ndarray:
    """Per-step returns-to-go ``G_t = r_t + gamma * G_{t+1}`` within each trajectory, ``[N]``.

    Vectorised over trajectories: a backward sweep over the step index (as many passes as the longest
    trajectory, each pass over all trajectories at once).
    """
    n = len(batch)
    if n == 0:
        return np.zeros(0)
    perm = order_by_step(batch)
    r = reward if perm is None else reward[perm]
    tid = np.asarray(batch.traj_id) if perm is None else np.asarray(batch.traj_id)[perm]
    step = np.asarray(batch.step) if perm is None else np.asarray(batch.step)[perm]
    has_next = np.zeros(n, bool)
    has_next[:-1] = tid[1:] == tid[:-1]
    g = r.astype(np.float64).copy()
    if gamma == 1.0:
        # reverse cumulative sum within trajectories
        csum = np.cumsum(r[::-1])[::-1]
        ends = np.flatnonzero(~has_next)  # each trajectory's last index (steps are contiguous here)
        tidx = np.zeros(n, np.int64)
        tidx[1:] = np.cumsum(~has_next[:-1])
        after = np.where(ends + 1 < n, csum[np.minimum(ends + 1, n - 1)], 0.0)
        g = csum - after[tidx]
    else:
        for s in range(int(step.max()) - 1, -1, -1):
            idx = np.flatnonzero((step == s) & has_next)
            g[idx] += gamma * g[idx + 1]
    if perm is None:
        return g
    out = np.empty(n)
    out[perm] = g
    return out


def broadcast_to_steps(per_traj: np.ndarray, tidx: np.ndarray) -> np.ndarray:
    """Trajectory values ``[T]`` to steps ``[N]``."""
    return per_traj[tidx]
