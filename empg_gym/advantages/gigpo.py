r"""GiGPO: group-in-group policy optimisation (episode-level plus anchor-state step-level advantages).

Paper: Feng et al., "Group-in-Group Policy Optimization for LLM Agent Training", arXiv 2505.10978.
Reference code: verl-agent, ``gigpo/core_gigpo.py``.

Episode level: the GRPO-family advantage of :mod:`.grpo` without leave-one-out,

.. math:: A^E = \frac{s - \operatorname{mean}_G s}{F(G)}

over the members of the group: under ``protocol="verl-agent"`` (default) every step row, scored with its
episode's return minus its own penalty (verl-agent's ``episode_norm_reward`` pools across steps; a one-row
group keeps its raw score); under ``"trajectory"`` every trajectory, scored with its return including its
penalties (a one-trajectory group gets 0; ``singleton`` overrides).

Step level: inside a group, steps whose states are identical (the same *anchor* key, by default the
observation text) form a step group :math:`S`; with discounted returns-to-go over turns
:math:`R_t = \sum_{k \ge t} \gamma^{k-t} r_k` (under ``verl-agent`` of the env rewards, then minus the step's
own penalty, as verl-agent subtracts it from ``step_rewards``; under ``trajectory`` of the penalised rewards),

.. math:: A^S_{i,t} = \frac{R_t^i - \operatorname{mean}_{(j,u) \in S} R_u^j}{F(S)}

and the step's advantage is :math:`A_{i,t} = A^E + \omega A^S_{i,t}`. A step group of one member gets
:math:`A^S = 0` (in verl-agent too: its mean is its own value). :math:`F` is the group's standard deviation
(unbiased, as ``torch.std``) plus :math:`\epsilon` (``norm="std"``, verl-agent's ``mean_std_norm``) or 1
(``norm="none"``, ``mean_norm``). ``norm=None`` takes the protocol's default: verl-agent's config default
``mean_norm`` under ``verl-agent`` (its WebShop script too; its ALFWorld and search scripts pass
``mean_std_norm``), ``std`` under ``trajectory``. :math:`\gamma = 0.95` as in verl-agent's scripts,
:math:`\omega = 1`.

Deviations: step groups never span different ``group_id`` values (as verl-agent, which groups by prompt
uid first); anchors must be hashable and are matched exactly (verl-agent's optional similarity grouping is
not offered). ``StepBatch`` defaults anchors to the observation text.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import (
    check_protocol,
    discounted_returns,
    penalties,
    protocol_rewards,
    segment_mean,
    segment_std,
)
from empg_gym.advantages.grpo import member_advantages
from empg_gym.types import StepBatch

_NORMS = {"std": "std", "mean_std_norm": "std", "none": "none", "mean_norm": "none"}


def _anchor_groups(group_id: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense index ``[N]`` of (group, anchor-state) pairs."""
    ids: dict[tuple[object, object], int] = {}
    out = np.empty(len(anchor), np.int64)
    for i, key in enumerate(zip(group_id.tolist(), anchor.tolist(), strict=True)):
        out[i] = ids.setdefault(key, len(ids))
    return out, len(ids)


@register("gigpo")
def gigpo(
    batch: StepBatch, *, gamma: float = 0.95, omega: float = 1.0, norm: str | None = None, eps: float = 1e-6,
    protocol: str = "verl-agent", singleton: str | None = None,
) -> np.ndarray:
    """GiGPO: episode-level group advantage plus omega x the step-level advantage within anchor-state groups.

    Args:
        batch: The steps (``anchor`` must be set; ``StepBatch.from_trajectories`` uses the observation).
        gamma: Discount over turns for the step-level returns, in [0, 1].
        omega: Weight of the step-level advantage.
        norm: ``"std"`` / ``"mean_std_norm"`` (divide by the group's std + eps) or ``"none"`` /
            ``"mean_norm"`` (mean subtraction only); None = the protocol's default (verl-agent: mean_norm,
            trajectory: std).
        eps: Added to standard deviations.
        protocol: ``"verl-agent"`` or ``"trajectory"`` (see the module docstring).
        singleton: A one-member episode group's advantage: ``"raw"`` or ``"zero"``; None = the protocol's.

    Returns:
        ``[N]`` step advantages.
    """
    check_protocol(protocol)
    if norm is None:
        norm = "none" if protocol == "verl-agent" else "std"
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {sorted(_NORMS)} or None (the protocol's), got {norm!r}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if batch.anchor is None:
        raise ValueError("gigpo needs StepBatch.anchor (hashable state keys, e.g. the observation text)")
    reward = protocol_rewards(batch, protocol)
    if len(batch) == 0:
        return np.zeros(0)
    scale = _NORMS[norm] == "std"
    a_ep = member_advantages(batch, protocol=protocol, scale_std=scale, leave_one_out=False, eps=eps,
                             singleton=singleton)
    g = discounted_returns(batch, reward, gamma)
    if protocol == "verl-agent":
        g = g - penalties(batch)
    sidx, k = _anchor_groups(np.asarray(batch.group_id), np.asarray(batch.anchor, dtype=object))
    mean, cnt = segment_mean(g, sidx, k)
    a_st = g - mean[sidx]
    if scale:
        a_st = a_st / (segment_std(g, sidx, k, mean, cnt, 1)[sidx] + eps)
    a_st = np.where(cnt[sidx] > 1, a_st, 0.0)
    return a_ep + omega * a_st
