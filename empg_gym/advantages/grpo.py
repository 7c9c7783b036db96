r"""GRPO: group-relative trajectory advantages (and the Dr. GRPO, leave-one-out and DAPO variants).

Papers: Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300; Liu et al., "Understanding R1-Zero-Like
Training: A Critical Perspective" (Dr. GRPO), arXiv 2503.20783; Yu et al., "DAPO", arXiv 2503.14476.

For trajectory :math:`i` of a group :math:`G` (the same task played :math:`|G|` times) with return
:math:`R_i = \sum_t r_t^i` (undiscounted sum of the step rewards):

.. math::

    A_i = \frac{R_i - b_i}{s_G + \epsilon}, \qquad
    b_i = \operatorname{mean}_{j \in G} R_j

or, leave-one-out, :math:`b_i = \operatorname{mean}_{j \in G, j \ne i} R_j`,

with :math:`s_G` the group's standard deviation (unbiased, ``ddof=1``, as ``torch.std``) when
``scale_std`` is on, and :math:`s_G = 1, \epsilon = 0` when it is off (Dr. GRPO). Every step of
trajectory :math:`i` gets :math:`A_i`.

Deviation from verl: a group of one trajectory gets advantage 0 (verl passes its raw return through).
``dapo`` is registered as an alias of this estimator: DAPO's advantage *is* GRPO's; its other changes
(clip-higher, dynamic sampling, token-level loss aggregation, overlong shaping) are trainer settings
(see ``empg_gym.trainers.config``).
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import dense, segment_mean, segment_std, trajectory_returns
from empg_gym.types import StepBatch


def group_advantages(
    returns: np.ndarray, group: np.ndarray, *, scale_std: bool, leave_one_out: bool, eps: float, ddof: int = 1
) -> np.ndarray:
    """GRPO advantages of trajectories ``[T]`` from returns ``[T]`` and dense group indices ``[T]``."""
    gidx, k = dense(group)
    mean, cnt = segment_mean(returns, gidx, k)
    c = cnt[gidx]
    if leave_one_out:
        # mean of the others = (sum - R_i) / (n - 1)
        base = np.where(c > 1, (mean[gidx] * c - returns) / np.maximum(c - 1, 1), returns)
    else:
        base = mean[gidx]
    adv = returns - base
    if scale_std:
        std = segment_std(returns, gidx, k, mean, cnt, ddof)
        adv = adv / (std[gidx] + eps)
    return np.where(c > 1, adv, 0.0)


@register("grpo")
def grpo(
    batch: StepBatch, *, scale_std: bool = True, leave_one_out: bool = False, eps: float = 1e-6
) -> np.ndarray:
    """GRPO: group z-score of trajectory returns, the same on every step of a trajectory.

    Args:
        batch: The steps.
        scale_std: Divide by the group's standard deviation (False = Dr. GRPO).
        leave_one_out: Baseline = mean of the *other* trajectories of the group.
        eps: Added to the standard deviation.

    Returns:
        ``[N]`` step advantages.

    >>> import numpy as np
    >>> from empg_gym.types import StepBatch
    >>> b = StepBatch(np.array([0, 0, 1]), np.array([0, 1, 0]), np.zeros(3, int), np.array([0., 1., 0.]),
    ...               np.zeros(3, bool), np.zeros(3, bool))
    >>> grpo(b, scale_std=False).tolist()
    [0.5, 0.5, -0.5]
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    tidx, ret, tg = trajectory_returns(batch)
    adv = group_advantages(ret, tg, scale_std=scale_std, leave_one_out=leave_one_out, eps=eps)
    return adv[tidx]


# DAPO's advantage is GRPO's; the rest of DAPO is trainer configuration.
register("dapo")(grpo)
