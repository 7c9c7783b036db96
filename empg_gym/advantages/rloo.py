r"""RLOO: REINFORCE with a leave-one-out baseline.

Papers: Kool et al., "Buy 4 REINFORCE Samples, Get a Baseline for Free!" (ICLR DeepRL workshop 2019);
Ahmadian et al., "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human
Feedback in LLMs", arXiv 2402.14740.

For a member :math:`i` of a group :math:`G` with score :math:`s_i`:

.. math::

    A_i = s_i - \frac{1}{|G| - 1} \sum_{j \in G, j \ne i} s_j = \frac{|G|}{|G| - 1} (s_i - \bar s_G)

Members and scores follow ``protocol`` exactly as in :mod:`.grpo`: under ``verl-agent`` (default, verl-agent's
``compute_rloo_outcome_advantage`` with cross-step statistics) every step row is a member scored with its
episode return minus its own penalty, and a one-row group keeps its raw score; under ``trajectory`` every
trajectory is a member and a one-trajectory group gets 0 (``singleton`` overrides). Group means are zero.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages.grpo import member_advantages
from empg_gym.types import StepBatch


@register("rloo")
def rloo(batch: StepBatch, *, protocol: str = "verl-agent", singleton: str | None = None) -> np.ndarray:
    """RLOO: a member's score minus the mean score of the other members of its group.

    Args:
        batch: The steps.
        protocol: ``"verl-agent"`` or ``"trajectory"`` (see :mod:`.grpo`).
        singleton: A one-member group's advantage: ``"raw"`` or ``"zero"``; None = the protocol's.

    Returns:
        ``[N]`` step advantages.
    """
    return member_advantages(batch, protocol=protocol, scale_std=False, leave_one_out=True, eps=0.0,
                             singleton=singleton)
