r"""REINFORCE++: returns normalised over the whole batch (optionally minus a group baseline).

Paper: J. Hu, "REINFORCE++: A Simple and Efficient Approach for Aligning Large Language Models",
arXiv 2501.03262. Reference code: verl's ``compute_reinforce_plus_plus_outcome_advantage`` and
``compute_reinforce_plus_plus_baseline_outcome_advantage`` (verl-agent: the latter with cross-step
statistics).

A step is one agent turn. Under ``protocol="verl-agent"`` (default) every step is its own sequence whose
score is its episode's return minus its own ``penalty`` (as verl-agent puts the episode reward on each turn's
last token): :math:`G_t^i = R^i - p_t^i`. There is no discount across turns (verl's ``gamma`` acts on the
tokens of one turn, which one advantage per step cannot express, so ``gamma`` must be 1 here). Under
``"trajectory"`` :math:`G_t^i = \sum_{k \ge t} \gamma^{k-t} (r_k^i - p_k^i)`, the return-to-go over turns.

With ``group_baseline`` (REINFORCE++-baseline) a group mean is subtracted first: under ``verl-agent`` the
mean of the group's step-row scores (a one-row group: 0), under ``trajectory`` the group's mean trajectory
return. Then the batch is whitened:

- ``verl-agent``: per token, as verl's ``masked_whiten``: each step counts ``n_tokens`` times,
  :math:`A = (x - \mu) / \sqrt{\operatorname{var}_{unbiased} + \epsilon}`;
- ``trajectory``: per step, :math:`A = (x - \mu) / (\operatorname{std} + \epsilon)` (biased std).

Deviation: the paper folds a per-token KL penalty into the reward; here the KL term is the trainer's
(``kl_coef`` in the loss), so the estimator sees only env (or shaped) rewards.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import (
    check_protocol,
    discounted_returns,
    protocol_rewards,
    row_scores,
    segment_mean,
    trajectory_returns,
    whiten,
)
from empg_gym.types import StepBatch


@register("reinforce_pp")
def reinforce_pp(
    batch: StepBatch, *, gamma: float = 1.0, group_baseline: bool = False, eps: float = 1e-8,
    protocol: str = "verl-agent",
) -> np.ndarray:
    """REINFORCE++: per-step returns, whitened over the batch (optionally minus the group mean first).

    Args:
        batch: The steps (``n_tokens`` weights the verl-agent whitening; None = one token per step).
        gamma: Discount over turns, in [0, 1] (``trajectory`` only; must be 1 under ``verl-agent``).
        group_baseline: Subtract the group mean first (REINFORCE++-baseline).
        eps: ``verl-agent``: added to the variance; ``trajectory``: added to the std.
        protocol: ``"verl-agent"`` or ``"trajectory"`` (see the module docstring).

    Returns:
        ``[N]`` step advantages.
    """
    check_protocol(protocol)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if protocol == "verl-agent" and gamma != 1.0:
        raise ValueError(f"reinforce_pp: gamma={gamma} needs protocol 'trajectory'; under 'verl-agent' each "
                         "turn is scored with its episode's return (verl's gamma discounts tokens within a "
                         "turn), so set gamma: 1.0 or protocol: trajectory")
    reward = protocol_rewards(batch, protocol)
    if len(batch) == 0:
        return np.zeros(0)
    if protocol == "verl-agent":
        x, gidx = row_scores(batch)
        if group_baseline:
            k = int(gidx.max()) + 1
            mean, cnt = segment_mean(x, gidx, k)
            x = x - np.where(cnt > 1, mean, 0.0)[gidx]
    else:
        x = discounted_returns(batch, reward, gamma)
        if group_baseline:
            tidx, ret, tg = trajectory_returns(batch, reward)
            mean, _ = segment_mean(ret, tg, int(tg.max()) + 1)
            x = x - mean[tg][tidx]
    return whiten(x, batch, protocol=protocol, eps=eps)
