r"""GiGPO: group-in-group policy optimisation (episode-level plus anchor-state step-level advantages).

Paper: Feng et al., "Group-in-Group Policy Optimization for LLM Agent Training", arXiv 2505.10978.

Episode level, for trajectory :math:`i` of group :math:`G` with return :math:`R_i = \sum_t r_t^i`:

.. math:: A^E_i = \frac{R_i - \operatorname{mean}_{j \in G} R_j}{F(G)}

Step level: inside a group, steps whose states are identical (the same *anchor* key, by default the
observation text) form a step group :math:`S`; with discounted returns-to-go
:math:`R_t^i = \sum_{k \ge t} \gamma^{k-t} r_k^i`,

.. math:: A^S_{i,t} = \frac{R_t^i - \operatorname{mean}_{(j,u) \in S} R_u^j}{F(S)}

and the step's advantage is :math:`A_{i,t} = A^E_i + \omega A^S_{i,t}`. :math:`F` is the group's standard
deviation plus :math:`\epsilon` (``norm="std"``, the paper's default; unbiased, as ``torch.std``) or 1
(``norm="none"``, the paper's "mean_norm" variant). Defaults: :math:`\gamma = 0.95`, :math:`\omega = 1`.

Deviations: a group or step group of size one gets 0 at its level (verl-agent passes the raw value);
step groups never span different ``group_id`` values. Anchor keys must be hashable; ``StepBatch``
defaults them to the observation text.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import (
    check_batch,
    discounted_returns,
    segment_mean,
    segment_std,
    trajectory_returns,
)
from empg_gym.advantages.grpo import group_advantages
from empg_gym.types import StepBatch


def _anchor_groups(group_id: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense index ``[N]`` of (group, anchor-state) pairs."""
    ids: dict[tuple[object, object], int] = {}
    out = np.empty(len(anchor), np.int64)
    for i, key in enumerate(zip(group_id.tolist(), anchor.tolist(), strict=True)):
        out[i] = ids.setdefault(key, len(ids))
    return out, len(ids)


@register("gigpo")
def gigpo(
    batch: StepBatch, *, gamma: float = 0.95, omega: float = 1.0, norm: str = "std", eps: float = 1e-6
) -> np.ndarray:
    """GiGPO: episode-level group advantage plus omega x the step-level advantage within anchor-state groups.

    Args:
        batch: The steps (``anchor`` must be set; ``StepBatch.from_trajectories`` uses the observation).
        gamma: Discount over turns for the step-level returns, in [0, 1].
        omega: Weight of the step-level advantage.
        norm: ``"std"`` (divide by the group's std + eps) or ``"none"`` (mean subtraction only).
        eps: Added to standard deviations.

    Returns:
        ``[N]`` step advantages.
    """
    if norm not in ("std", "none"):
        raise ValueError(f"norm must be 'std' or 'none', got {norm!r}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if batch.anchor is None:
        raise ValueError("gigpo needs StepBatch.anchor (hashable state keys, e.g. the observation text)")
    reward = check_batch(batch)
    if len(batch) == 0:
        return np.zeros(0)
    scale = norm == "std"
    tidx, ret, tg = trajectory_returns(batch)
    a_ep = group_advantages(ret, tg, scale_std=scale, leave_one_out=False, eps=eps)[tidx]
    g = discounted_returns(batch, reward, gamma)
    sidx, k = _anchor_groups(np.asarray(batch.group_id), np.asarray(batch.anchor, dtype=object))
    mean, cnt = segment_mean(g, sidx, k)
    a_st = g - mean[sidx]
    if scale:
        a_st = a_st / (segment_std(g, sidx, k, mean, cnt, 1)[sidx] + eps)
    a_st = np.where(cnt[sidx] > 1, a_st, 0.0)
    return a_ep + omega * a_st
