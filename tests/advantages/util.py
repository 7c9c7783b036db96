"""Build StepBatches from compact trajectory descriptions for the estimator tests."""

from __future__ import annotations

import numpy as np

from empg_gym.types import StepBatch


def batch(trajs, *, entropy=True, values=None, anchors=None) -> StepBatch:
    """``trajs``: list of ``(group_id, rewards[, entropies])``; the last step terminates."""
    traj_id, step, group, reward, term, ent = [], [], [], [], [], []
    for i, t in enumerate(trajs):
        g, r = t[0], t[1]
        n = len(r)
        traj_id += [i] * n
        step += list(range(n))
        group += [g] * n
        reward += list(r)
        term += [False] * (n - 1) + [True]
        ent += list(t[2]) if len(t) > 2 else [1.0] * n
    n = len(traj_id)
    anc = None
    if anchors is not None:
        anc = np.empty(n, dtype=object)
        anc[:] = [a for row in anchors for a in row]
    return StepBatch(
        np.array(traj_id, dtype=np.int64), np.array(step, dtype=np.int64), np.array(group, dtype=np.int64),
        np.array(reward, dtype=np.float64), np.array(term, bool), np.zeros(n, bool),
        np.array(ent, dtype=np.float64) if entropy else None,
        None if values is None else np.array([v for row in values for v in row], dtype=np.float64),
        anc,
    )


def permuted(b: StepBatch, perm: np.ndarray) -> StepBatch:
    """The same steps in another order."""
    def p(a):
        return None if a is None else np.asarray(a)[perm]
    return StepBatch(p(b.traj_id), p(b.step), p(b.group_id), p(b.reward), p(b.terminated), p(b.truncated),
                     p(b.entropy), p(b.value), p(b.anchor))
