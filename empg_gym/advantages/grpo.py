r"""GRPO: group-relative advantages (and the Dr. GRPO, leave-one-out and DAPO variants).

Papers: Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300; Liu et al., "Understanding R1-Zero-Like
Training: A Critical Perspective" (Dr. GRPO), arXiv 2503.20783; Yu et al., "DAPO", arXiv 2503.14476.

For a member :math:`i` of a group :math:`G` (the same task played :math:`|G|` times) with score :math:`s_i`:

.. math::

    A_i = \frac{s_i - b_i}{\sigma_G + \epsilon}, \qquad
    b_i = \operatorname{mean}_{j \in G} s_j

or, leave-one-out, :math:`b_i = \operatorname{mean}_{j \in G, j \ne i} s_j`, with :math:`\sigma_G` the
group's standard deviation (unbiased, ``ddof=1``, as ``torch.std``) when ``scale_std`` is on, and
:math:`\sigma_G = 1, \epsilon = 0` when it is off (Dr. GRPO).

What a member and its score are depends on ``protocol`` (see ``docs/estimators.md``):

- ``verl-agent`` (default; verl-agent's ``compute_grpo_outcome_advantage`` with
  ``compute_mean_std_cross_steps``): every *step* is a member, scored with its episode's return
  :math:`R = \sum_t r_t` minus its own ``penalty``; the statistics pool one score per step row, so long
  episodes weigh more. A group of one row keeps its raw score (verl: mean 0, std 1).
- ``trajectory``: every trajectory is a member, scored with its return including the penalties of all its
  steps; every step of the trajectory gets :math:`A_i`. A group of one trajectory gets 0 (a lone sample has
  no baseline; verl passes its raw score through, available as ``singleton="raw"``).

``dapo`` is registered as an alias of this estimator: DAPO's advantage *is* GRPO's; its other changes
(clip-higher, dynamic sampling, token-level loss aggregation, overlong shaping) are trainer settings
(see ``empg_gym.trainers.config``).
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import (
    check_protocol,
    dense,
    protocol_rewards,
    resolve_singleton,
    row_scores,
    segment_mean,
    segment_std,
    trajectory_returns,
)
from empg_gym.types import StepBatch


def group_advantages(
    scores: np.ndarray, group: np.ndarray, *, scale_std: bool, leave_one_out: bool, eps: float, ddof: int = 1,
    singleton: str = "zero",
) -> np.ndarray:
    """GRPO advantages of members ``[M]`` from their scores ``[M]`` and group ids ``[M]``.

    ``singleton``: what a member alone in its group gets: ``"zero"``, or ``"raw"`` (verl: the score with
    mean 0 and std 1, i.e. ``s / (1 + eps)`` when scaling by the std, else ``s``).
    """
    gidx, k = dense(group)
    mean, cnt = segment_mean(scores, gidx, k)
    c = cnt[gidx]
    if leave_one_out:
        # mean of the others = (sum - s_i) / (n - 1)
        base = np.where(c > 1, (mean[gidx] * c - scores) / np.maximum(c - 1, 1), scores)
    else:
        base = mean[gidx]
    adv = scores - base
    if scale_std:
        std = segment_std(scores, gidx, k, mean, cnt, ddof)
        adv = adv / (std[gidx] + eps)
    if singleton == "raw":
        alone = scores / (1.0 + eps) if scale_std else scores
    else:
        alone = np.zeros_like(scores)
    return np.where(c > 1, adv, alone)


def member_advantages(
    batch: StepBatch, *, protocol: str, scale_std: bool, leave_one_out: bool, eps: float,
    singleton: str | None,
) -> np.ndarray:
    """Per-step GRPO-family advantages under ``protocol`` (shared by GRPO, RLOO and GiGPO's episode part)."""
    check_protocol(protocol)
    alone = resolve_singleton(singleton, protocol)
    if protocol == "verl-agent":
        scores, gidx = row_scores(batch)
        return group_advantages(scores, gidx, scale_std=scale_std, leave_one_out=leave_one_out, eps=eps,
                                singleton=alone)
    tidx, ret, tg = trajectory_returns(batch, protocol_rewards(batch, protocol))
    adv = group_advantages(ret, tg, scale_std=scale_std, leave_one_out=leave_one_out, eps=eps,
                           singleton=alone)
    return adv[tidx]


@register("grpo")
def grpo(
    batch: StepBatch, *, scale_std: bool = True, leave_one_out: bool = False, eps: float = 1e-6,
    protocol: str = "verl-agent", singleton: str | None = None,
) -> np.ndarray:
    """GRPO: group z-score of episode returns (per step row under verl-agent, per trajectory otherwise).

    Args:
        batch: The steps.
        scale_std: Divide by the group's standard deviation (False = Dr. GRPO).
        leave_one_out: Baseline = mean of the *other* members of the group.
        eps: Added to the standard deviation.
        protocol: ``"verl-agent"`` or ``"trajectory"`` (see the module docstring).
        singleton: A one-member group's advantage: ``"raw"`` or ``"zero"``; None = the protocol's
            (verl-agent: raw, trajectory: zero).

    Returns:
        ``[N]`` step advantages.

    >>> import numpy as np
    >>> from empg_gym.types import StepBatch
    >>> b = StepBatch(np.array([0, 0, 1]), np.array([0, 1, 0]), np.zeros(3, int), np.array([0., 1., 0.]),
    ...               np.zeros(3, bool), np.zeros(3, bool))
    >>> grpo(b, scale_std=False, protocol="trajectory").tolist()
    [0.5, 0.5, -0.5]
    >>> np.round(grpo(b, scale_std=False), 4).tolist()  # rows 1, 1, 0: mean 2/3
    [0.3333, 0.3333, -0.6667]
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    return member_advantages(batch, protocol=protocol, scale_std=scale_std, leave_one_out=leave_one_out,
                             eps=eps, singleton=singleton)


# DAPO's advantage is GRPO's; the rest of DAPO is trainer configuration.
register("dapo")(grpo)
