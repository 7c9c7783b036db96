r"""EMPG: entropy-modulated policy gradients, on top of any base estimator.

Paper: J. Wang et al., "Harnessing Uncertainty: Entropy-Modulated Policy Gradients for Long-Horizon LLM
Agents", arXiv 2509.09265 (2025). Implemented exactly as our specification ``docs/EMPG.md`` (shared docs)
states it. For step :math:`t` of trajectory :math:`i` in batch :math:`B`:

1. :math:`H_t^i` = mean over the step's generated tokens of the full-vocabulary token entropy under the
   policy that generated the rollout (``StepBatch.entropy``; the trainer computes it from full logits).
2. Batch min-max normalisation over **all steps of all trajectories**:
   :math:`\hat H = (H - \min_B H) / (\max_B H - \min_B H + \epsilon)`, :math:`\epsilon = 10^{-8}`.
3. Self-calibrating scaling :math:`g_t^i = e^{-k \hat H_t^i} / \operatorname{mean}_B(e^{-k \hat H})`
   (batch mean 1).
4. Future clarity :math:`f_{t+1}^i = e^{-k' \hat H_{t+1}^i}` (no normalisation); the last step of a
   trajectory gets no bonus (:math:`f = 0`).
5. :math:`A^{mod}_t{}^i = g_t^i A_t^i + \zeta f_{t+1}^i`, with :math:`A` the base estimator's advantage
   (GRPO by default; DAPO likewise), computed under the same ``protocol`` (default ``verl-agent``: group
   statistics over one score per step row, the invalid-action penalty on the offending row only; see
   ``docs/estimators.md``).
6. Final normalisation (``final_norm``): ``"mean"`` (default, the released pseudocode)
   :math:`A = A^{mod} - \operatorname{mean}_B A^{mod}`; ``"mean_std"`` also divides by
   :math:`\operatorname{std}_B A^{mod} + \epsilon` (open point in the paper); ``"none"`` leaves it.

Steps without scored tokens (``StepBatch.n_tokens == 0``) have no entropy: they are left out of the
min, max and mean of step 2-3, get :math:`g = 1`, and give their predecessor no bonus (never entropy 0).

Defaults :math:`k = k' = 1`, :math:`\zeta = 0.1`. Ablations: ``ablation="g_only"`` (:math:`\zeta = 0`),
``ablation="f_only"`` (:math:`k = 0`, so :math:`g = 1`). The step advantage applies to all of the step's
response tokens; the clipped objective of the base method is unchanged (EMPG is an estimator, nothing more).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from empg_gym.advantages import check_kwargs, get, register, signature_defaults
from empg_gym.advantages._common import check_protocol, finite, next_in_trajectory
from empg_gym.types import StepBatch

_FINAL_NORMS = ("mean", "mean_std", "none")
_ABLATIONS = ("none", "g_only", "f_only")


def modulation(
    entropy: np.ndarray, nxt: np.ndarray, has_next: np.ndarray, *, k: float, k_next: float, eps: float,
    scored: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """EMPG's ``(g [N], f_next [N])`` from step entropies and each step's next-step index.

    ``f_next`` is 0 where a step has no next step. ``scored [N]`` (bool, default all) marks the steps that
    have an entropy: the others are left out of the min, max and mean, get ``g = 1`` and give no bonus.
    """
    if scored is None:
        scored = np.ones(len(entropy), bool)
    if not scored.any():
        return np.ones(len(entropy)), np.zeros(len(entropy))
    lo, hi = entropy[scored].min(), entropy[scored].max()
    hn = np.where(scored, (entropy - lo) / (hi - lo + eps), 0.0)  # [N] in [0, 1)
    w = np.exp(-k * hn)
    g = np.where(scored, w / w[scored].mean(), 1.0)
    f_next = np.where(has_next & scored[nxt], np.exp(-k_next * hn[nxt]), 0.0)
    return g, f_next


@register("empg")
def empg(
    batch: StepBatch,
    *,
    base: str = "grpo",
    base_kwargs: Mapping[str, Any] | None = None,
    k: float = 1.0,
    k_next: float = 1.0,
    zeta: float = 0.1,
    final_norm: str = "mean",
    ablation: str = "none",
    eps: float = 1e-8,
    protocol: str = "verl-agent",
) -> np.ndarray:
    """EMPG: re-weight the base estimator's advantages by step confidence, plus a future-clarity bonus.

    Args:
        batch: The steps (``entropy`` must be set: mean token entropy of each step).
        base: Registry name of the base estimator (``grpo``, ``dapo``, ``rloo``, ``gigpo``, ...).
        base_kwargs: Hyperparameters of the base estimator.
        k: Sharpness of the confidence scaling g (k in the paper).
        k_next: Sharpness of the future-clarity bonus f (k' in the paper).
        zeta: Weight of the future-clarity bonus.
        final_norm: ``"mean"``, ``"mean_std"`` or ``"none"``.
        ablation: ``"none"``, ``"g_only"`` (zeta = 0) or ``"f_only"`` (k = 0).
        eps: Epsilon of the min-max and std normalisations.
        protocol: ``"verl-agent"`` or ``"trajectory"``, passed on to the base estimator (unless
            ``base_kwargs`` sets it, or the base takes no protocol).

    Returns:
        ``[N]`` step advantages.
    """
    if final_norm not in _FINAL_NORMS:
        raise ValueError(f"final_norm must be one of {_FINAL_NORMS}, got {final_norm!r}")
    if ablation not in _ABLATIONS:
        raise ValueError(f"ablation must be one of {_ABLATIONS}, got {ablation!r}")
    if base == "empg":
        raise ValueError("empg cannot be its own base estimator")
    if k < 0 or k_next < 0 or eps <= 0:
        raise ValueError(f"k and k_next must be >= 0 and eps > 0, got k={k}, k_next={k_next}, eps={eps}")
    if ablation == "g_only":
        zeta = 0.0
    elif ablation == "f_only":
        k = 0.0
    check_protocol(protocol)
    entropy = finite("entropy", batch.entropy, required_by="empg")
    base_kwargs = dict(base_kwargs or {})
    check_kwargs(base, base_kwargs)
    if "protocol" in signature_defaults(base):
        base_kwargs.setdefault("protocol", protocol)
    adv = np.asarray(get(base)(batch, **base_kwargs), dtype=np.float64)  # [N]
    if len(batch) == 0:
        return adv
    nxt, has_next = next_in_trajectory(batch)
    scored = None if batch.n_tokens is None else np.asarray(batch.n_tokens) > 0
    g, f_next = modulation(entropy, nxt, has_next, k=k, k_next=k_next, eps=eps, scored=scored)
    a_mod = g * adv + zeta * f_next
    if final_norm == "none":
        return a_mod
    a_mod = a_mod - a_mod.mean()
    if final_norm == "mean_std":
        a_mod = a_mod / (a_mod.std() + eps)
    return a_mod
