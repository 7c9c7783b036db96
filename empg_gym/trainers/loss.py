r"""The clipped policy-gradient loss shared by every estimator, with DAPO's options, KL and entropy terms.

For response token :math:`j` of step :math:`i` with advantage :math:`A_i` (the step's advantage spread over
its tokens), ratio :math:`\rho = \exp(\log\pi_\theta - \log\pi_{old})`:

.. math::

    \ell_{ij} = -\min\big(\rho A_i,\
        \operatorname{clip}(\rho, 1 - \epsilon_{low}, 1 + \epsilon_{high}) A_i\big)
        + \beta\, \mathrm{KL}_{k3}(\pi_\theta \| \pi_{ref}) - c_H\, H(\pi_\theta)

with the k3 estimator :math:`\mathrm{KL}_{k3} = e^{d} - d - 1`, :math:`d = \log\pi_{ref} - \log\pi_\theta`.
Asymmetric :math:`\epsilon_{high} > \epsilon_{low}` is DAPO's clip-higher. Aggregation over a minibatch:
``token`` = sum over all response tokens / number of response tokens in the minibatch (DAPO);
``sequence`` = mean over steps of each step's token mean (GRPO). The normalisers are the *minibatch*
totals, so gradient accumulation over micro-batches gives exactly the minibatch gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def aggregate(x: torch.Tensor, mask: torch.Tensor, mode: str, n_tokens: float, n_seqs: float) -> torch.Tensor:
    """Aggregate per-token values ``x [B, R]`` under ``mask [B, R]`` (see the module docstring)."""
    if mode == "token":
        return (x * mask).sum() / n_tokens
    if mode == "sequence":
        per_seq = (x * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
        return per_seq.sum() / n_seqs
    raise ValueError(f"loss aggregation must be 'token' or 'sequence', got {mode!r}")


@dataclass(frozen=True)
class LossOut:
    """The loss and detached statistics (sums over the micro-batch's tokens, for exact averaging)."""

    loss: torch.Tensor
    pg_clipfrac_sum: float
    approx_kl_sum: float
    ref_kl_sum: float
    entropy_sum: float
    n_tokens: float


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
    loss_agg: str,
    n_tokens: float,
    n_seqs: float,
    ref_logp: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    entropy: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
) -> LossOut:
    """Clipped surrogate (+ KL penalty, - entropy bonus) for one micro-batch.

    Args:
        logp: ``[B, R]`` log-probs under the current policy (with grad).
        old_logp: ``[B, R]`` log-probs under the rollout policy.
        adv: ``[B]`` step advantages (spread over each step's tokens) or ``[B, R]`` token advantages.
        mask: ``[B, R]`` 1 on response tokens.
        clip_low: Lower clip range.
        clip_high: Upper clip range.
        loss_agg: ``"token"`` or ``"sequence"``.
        n_tokens: Response tokens in the whole minibatch (normaliser of ``token``).
        n_seqs: Steps in the whole minibatch (normaliser of ``sequence``).
        ref_logp: ``[B, R]`` reference log-probs (needed when ``kl_coef > 0``).
        kl_coef: KL penalty weight.
        entropy: ``[B, R]`` current-policy token entropies (with grad; needed when ``entropy_coef > 0``).
        entropy_coef: Entropy bonus weight.
    """
    if adv.dim() == 1:
        adv = adv.unsqueeze(-1)  # [B, 1] -> broadcast over tokens
    ratio = torch.exp(logp - old_logp)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    pg = torch.maximum(pg1, pg2)  # [B, R]
    loss = aggregate(pg, mask, loss_agg, n_tokens, n_seqs)
    ref_kl = torch.zeros(())
    if kl_coef > 0:
        if ref_logp is None:
            raise ValueError("kl_coef > 0 needs reference log-probs")
        d = ref_logp - logp
        ref_kl = torch.exp(d) - d - 1.0  # k3, >= 0
        loss = loss + kl_coef * aggregate(ref_kl, mask, loss_agg, n_tokens, n_seqs)
    if entropy_coef > 0:
        if entropy is None:
            raise ValueError("entropy_coef > 0 needs current-policy entropies")
        loss = loss - entropy_coef * aggregate(entropy, mask, loss_agg, n_tokens, n_seqs)
    with torch.no_grad():
        m = mask
        clipped = (pg2 > pg1).float()
        return LossOut(
            loss=loss,
            pg_clipfrac_sum=float((clipped * m).sum()),
            approx_kl_sum=float((0.5 * (logp - old_logp) ** 2 * m).sum()),
            ref_kl_sum=float((ref_kl * m).sum()) if kl_coef > 0 else 0.0,
            entropy_sum=float((entropy * m).sum()) if entropy is not None else 0.0,
            n_tokens=float(m.sum()),
        )
