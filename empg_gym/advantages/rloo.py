r"""RLOO: REINFORCE with a leave-one-out baseline.

Papers: Kool et al., "Buy 4 REINFORCE Samples, Get a Baseline for Free!" (ICLR DeepRL workshop 2019);
Ahmadian et al., "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human
Feedback in LLMs", arXiv 2402.14740.

For trajectory :math:`i` of a group :math:`G` with return :math:`R_i` (undiscounted sum of step rewards):

.. math::

    A_i = R_i - \frac{1}{|G| - 1} \sum_{j \in G, j \ne i} R_j = \frac{|G|}{|G| - 1} (R_i - \bar R_G)

applied to every step of trajectory :math:`i`. A group of one trajectory gets 0. Group means are zero.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import trajectory_returns
from empg_gym.advantages.grpo import group_advantages
from empg_gym.types import StepBatch


@register("rloo")
def rloo(batch: StepBatch) -> np.ndarray:
    """RLOO: trajectory return minus the mean return of the other trajectories of its group.

    Args:
        batch: The steps.

    Returns:
        ``[N]`` step advantages.
    """
    tidx, ret, tg = trajectory_returns(batch)
    return group_advantages(ret, tg, scale_std=False, leave_one_out=True, eps=0.0)[tidx]
