r"""GAE: generalised advantage estimation over turns, for PPO with a critic.

Paper: Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage Estimation",
arXiv 1506.02438.

A step is one agent turn; :math:`V_t` is the critic's value of the state the turn acted on
(``StepBatch.value``). Within each trajectory,

.. math::

    \delta_t = r_t + \gamma V_{t+1} - V_t, \qquad A_t = \sum_{k \ge 0} (\gamma \lambda)^k \delta_{t+k}

where :math:`V_{t+1} = 0` after the last step of a ``terminated`` trajectory. After a ``truncated`` (or
otherwise cut) last step the next state's value is unknown to the batch: with ``bootstrap_truncated``
(default) it is approximated by :math:`V_t` (the last state's own value), else 0. The critic's regression
target is :math:`A_t + V_t` (computed by the PPO trainer). ``whiten`` normalises the advantages over the
batch (mean 0, std 1), as PPO implementations usually do.
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import check_batch, finite, order_by_step
from empg_gym.types import StepBatch


@register("gae")
def gae(
    batch: StepBatch, *, gamma: float = 1.0, lam: float = 0.95, bootstrap_truncated: bool = True,
    whiten: bool = False, eps: float = 1e-8,
) -> np.ndarray:
    """GAE(gamma, lambda) over turns from the critic's per-step values.

    Args:
        batch: The steps (``value`` must be set).
        gamma: Discount over turns, in [0, 1].
        lam: GAE lambda, in [0, 1].
        bootstrap_truncated: Bootstrap a truncated last step with its own value (else with 0).
        whiten: Normalise the advantages over the batch.
        eps: Added to the batch std when whitening.

    Returns:
        ``[N]`` step advantages.
    """
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must be in [0, 1], got gamma={gamma}, lam={lam}")
    reward = check_batch(batch)
    value = finite("value", batch.value, required_by="gae")
    n = len(batch)
    if n == 0:
        return np.zeros(0)
    perm = order_by_step(batch)
    if perm is not None:
        reward, value = reward[perm], value[perm]
    tid = np.asarray(batch.traj_id) if perm is None else np.asarray(batch.traj_id)[perm]
    step = np.asarray(batch.step) if perm is None else np.asarray(batch.step)[perm]
    term = np.asarray(batch.terminated, bool) if perm is None else np.asarray(batch.terminated, bool)[perm]
    has_next = np.zeros(n, bool)
    has_next[:-1] = tid[1:] == tid[:-1]
    next_v = np.zeros(n)
    next_v[:-1] = value[1:]
    boot = value if bootstrap_truncated else np.zeros(n)
    next_v = np.where(has_next, next_v, np.where(term, 0.0, boot))
    delta = reward + gamma * next_v - value
    adv = delta.copy()
    for s in range(int(step.max()) - 1, -1, -1):  # backward sweep, all trajectories at once
        idx = np.flatnonzero((step == s) & has_next)
        adv[idx] += gamma * lam * adv[idx + 1]
    if perm is not None:
        out = np.empty(n)
        out[perm] = adv
        adv = out
    if whiten:
        adv = (adv - adv.mean()) / (adv.std() + eps)
    return adv
