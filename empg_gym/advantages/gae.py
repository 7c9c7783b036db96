r"""GAE: generalised advantage estimation over turns, for PPO with a critic.

Paper: Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage Estimation",
arXiv 1506.02438. Reference code: verl's ``compute_gae_advantage_return``.

A step is one agent turn; :math:`V_t` is the critic's value of the state the turn acted on
(``StepBatch.value``).

``protocol="trajectory"``: within each trajectory, with :math:`r_t` the step reward minus its ``penalty``,

.. math::

    \delta_t = r_t + \gamma V_{t+1} - V_t, \qquad A_t = \sum_{k \ge 0} (\gamma \lambda)^k \delta_{t+k}

where :math:`V_{t+1} = 0` after the last step of a ``terminated`` trajectory. After a ``truncated`` (or
otherwise cut) last step the next state's value is unknown to the batch: with ``bootstrap_truncated``
(the default under this protocol) it is approximated by :math:`V_t` (the last state's own value), else 0.
Defaults :math:`\gamma = 1, \lambda = 0.95`. ``whiten``: per step, biased std + eps.

``protocol="verl-agent"`` (default): every turn is its own sequence, as verl-agent's trainer feeds verl's
``compute_gae_advantage_return`` one row per turn: the turn's reward is its episode's return minus its own
penalty (:math:`s_t`), and the sequence ends after the turn with value 0 (a truncated episode is
bootstrapped with 0, as in verl). With one value per turn this is :math:`A_t = s_t - V_t`, which is verl's
per-token GAE with its defaults :math:`\gamma = \lambda = 1` (verl's :math:`\gamma, \lambda` act on the
tokens of one turn; other values need ``protocol: trajectory``). ``whiten``: per token
(``n_tokens``), :math:`(A - \mu) / \sqrt{\operatorname{var}_{unbiased} + \epsilon}` as verl's
``masked_whiten``.

The critic's regression target is :math:`A_t + V_t` before whitening (computed by the PPO trainer).
"""

from __future__ import annotations

import numpy as np

from empg_gym.advantages import register
from empg_gym.advantages._common import (
    check_protocol,
    finite,
    order_by_step,
    protocol_rewards,
    row_scores,
)
from empg_gym.advantages._common import (
    whiten as whiten_batch,
)
from empg_gym.types import StepBatch


@register("gae")
def gae(
    batch: StepBatch, *, gamma: float | None = None, lam: float | None = None,
    bootstrap_truncated: bool | None = None, whiten: bool = False, eps: float = 1e-8,
    protocol: str = "verl-agent",
) -> np.ndarray:
    """GAE(gamma, lambda) over turns from the critic's per-step values (verl-agent: each turn a sequence).

    Args:
        batch: The steps (``value`` must be set).
        gamma: Discount over turns, in [0, 1]; None = 1.0 (must be 1 under ``verl-agent``).
        lam: GAE lambda, in [0, 1]; None = the protocol's (trajectory: 0.95; verl-agent: 1, the only value).
        bootstrap_truncated: Bootstrap a truncated last step with its own value (else with 0); None = the
            protocol's (trajectory: True; verl-agent: False, the only value).
        whiten: Normalise the advantages over the batch (per token under ``verl-agent``).
        eps: Whitening epsilon (added to the variance under ``verl-agent``, to the std otherwise).
        protocol: ``"verl-agent"`` or ``"trajectory"`` (see the module docstring).

    Returns:
        ``[N]`` step advantages.
    """
    check_protocol(protocol)
    verl = protocol == "verl-agent"
    gamma = 1.0 if gamma is None else gamma
    lam = (1.0 if verl else 0.95) if lam is None else lam
    boot = (not verl) if bootstrap_truncated is None else bootstrap_truncated
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must be in [0, 1], got gamma={gamma}, lam={lam}")
    if verl and (gamma != 1.0 or lam != 1.0 or boot):
        raise ValueError(f"gae: gamma={gamma}, lam={lam}, bootstrap_truncated={boot} need protocol "
                         "'trajectory'; under 'verl-agent' each turn is its own sequence ending with value 0 "
                         "(verl's gamma and lam act on tokens within a turn): leave them unset or set "
                         "protocol: trajectory")
    reward = protocol_rewards(batch, protocol)
    value = finite("value", batch.value, required_by="gae")
    n = len(batch)
    if n == 0:
        return np.zeros(0)
    if verl:
        adv = row_scores(batch)[0] - value
        return whiten_batch(adv, batch, protocol=protocol, eps=eps) if whiten else adv
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
    bootv = value if boot else np.zeros(n)
    next_v = np.where(has_next, next_v, np.where(term, 0.0, bootv))
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
        adv = whiten_batch(adv, batch, protocol=protocol, eps=eps)
    return adv
