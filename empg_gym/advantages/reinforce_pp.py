r"""REINFORCE++: discounted returns-to-go normalised over the whole batch.

Paper: J. Hu, "REINFORCE++: A Simple and Efficient Approach for Aligning Large Language Models",
arXiv 2501.03262.

Per step :math:`t` of trajectory :math:`i` (a step is one agent turn), the return-to-go with discount
:math:`\gamma` over turns, :math:`G_t^i = \sum_{k \ge t} \gamma^{k-t} r_k^i`, is normalised over **all
steps of the batch**:

.. math::

    A_t^i = \frac{G_t^i - b_t^i - \operatorname{mean}_B(G - b)}{\operatorname{std}_B(G - b) + \epsilon}

with :math:`b = 0` (REINFORCE++) or, with ``group_baseline=True`` (the paper's "REINFORCE++-baseline"),
:math:`b_t^i` = the mean trajectory return of :math:`i`'s group. The batch mean of the result is 0.

Deviation: the paper folds a per-token KL penalty into the reward; here the KL term is the trainer's
(``kl_coef`` in the loss), so the estimator sees only env (or shaped) rewards. :math:`\gamma` acts over
turns, not tokens.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import check_batch, discounted_returns, segment_mean, trajectory_returns
from empg_gym.types import StepBatch


@register("reinforce_pp")
def reinforce_pp(
    batch: StepBatch, *, gamma: float = 1.0, group_baseline: bool = False, eps: float = 1e-8
) -> np.ndarray:
    """REINFORCE++: returns-to-go, whitened over the batch (optionally minus the group mean return).

    Args:
        batch: The steps.
        gamma: Discount over turns, in [0, 1].
        group_baseline: Subtract the group's mean trajectory return first (REINFORCE++-baseline).
        eps: Added to the batch standard deviation.

    Returns:
        ``[N]`` step advantages.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    reward = check_batch(batch)
    if len(batch) == 0:
        return np.zeros(0)
    g = discounted_returns(batch, reward, gamma)
    if group_baseline:
        tidx, ret, tg = trajectory_returns(batch)
        mean, _ = segment_mean(ret, tg, int(tg.max()) + 1)
        g = g - mean[tg][tidx]
    return (g - g.mean()) / (g.std() + eps)
