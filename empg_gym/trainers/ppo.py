r"""PPO: the shared policy-gradient loop plus a critic and GAE over turns.

Paper: Schulman et al., "Proximal Policy Optimization Algorithms", arXiv 1707.06347; GAE: arXiv 1506.02438.

The critic is a separate copy of the initial policy network with a linear value head on the last hidden
state of the *last prompt token* (the state the turn acted on): :math:`V(s_t)`. Each iteration:

1. rollout, shaped rewards and the scoring pass as in :class:`~empg_gym.trainers.pg.PGTrainer`;
2. the critic values every step (``ScoredBatch.values``); ``gae`` (the registered estimator, with
   ``estimator_kwargs`` and ``protocol``, never whitened) gives :math:`A_t`; the value targets are
   :math:`R_t = A_t + V_t` (``ScoredBatch.returns``); the policy sees the advantages whitened over the batch
   (per token under ``protocol: verl-agent``, as verl; per step otherwise). ``estimator_kwargs`` may not set
   ``whiten``: the config rejects it rather than silently overriding it;
3. the minibatch updates add ``vf_coef`` x the clipped value loss
   :math:`\tfrac12 \max\big((V - R)^2, (V_{old} + \operatorname{clip}(V - V_{old}, \pm c) - R)^2\big)`
   (mean over the minibatch's steps) to the clipped policy loss; the critic has its own learning rate.

Only what differs from the shared loop lives here (hooks of ``PGTrainer``). ``estimator: gae`` selects this
trainer (:func:`empg_gym.trainers.train`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from empg_gym import advantages
from empg_gym.advantages._common import whiten
from empg_gym.trainers.pg import PGTrainer, build_model
from empg_gym.trainers.scoring import Packed, ScoredBatch, pack
from empg_gym.types import StepBatch


class Critic(torch.nn.Module):
    """A causal-LM backbone with a scalar value head on a chosen token's last hidden state."""

    def __init__(self, backbone: torch.nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        config: Any = backbone.config
        hidden = int(config.hidden_size)
        self.head = torch.nn.Linear(hidden, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, batch: Packed) -> torch.Tensor:
        """Values ``[B]`` at ``batch.last_prompt_index``."""
        out = self.backbone(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                            output_hidden_states=True, use_cache=False)
        h = out.hidden_states[-1]  # [B, L, H]
        rows = torch.arange(h.shape[0], device=h.device)
        last = h[rows, batch.last_prompt_index]  # [B, H]
        return self.head(last.float()).squeeze(-1)


class PPOTrainer(PGTrainer):
    """PPO with a critic and GAE; everything else is the shared loop."""

    def build_extra(self) -> None:
        """Build the critic from the initial policy weights."""
        backbone, _ = build_model(self.cfg, None)
        self.critic = Critic(backbone).to(self.device)

    def extra_modules(self) -> dict[str, Any]:
        """The critic is saved with every checkpoint."""
        return {"critic": self.critic}

    def param_groups(self) -> list[dict[str, Any]]:
        """Policy parameters plus the critic's (with ``critic_lr``)."""
        return super().param_groups() + [{"params": list(self.critic.parameters()), "lr": self.cfg.critic_lr}]

    @torch.no_grad()
    def values(self, batch: StepBatch) -> np.ndarray:
        """Critic values of every step's state, ``[N]``."""
        assert batch.prompt_ids is not None and batch.response_ids is not None
        out = np.zeros(len(batch))
        self.critic.eval()
        mbs = self.cfg.micro_batch_size
        for s in range(0, len(batch), mbs):
            # the value reads the last prompt token; a placeholder response keeps pack() happy for empty ones
            chunk = [(p, r if len(r) else (self.pad_id,))
                     for p, r in zip(batch.prompt_ids[s:s + mbs], batch.response_ids[s:s + mbs], strict=True)]
            v = self.critic(pack(chunk, self.pad_id).to(self.device))
            out[s:s + len(chunk)] = v.float().cpu().numpy()
        return out

    def score(self, batch: StepBatch) -> ScoredBatch:
        """The shared scoring pass plus the critic's values ``V(s)`` of every step."""
        return dataclasses.replace(super().score(batch), values=self.values(batch))

    def estimate(self, batch: StepBatch, scored: ScoredBatch) -> ScoredBatch:
        """GAE advantages, whitened over the batch for the policy; value targets ``R = A + V`` for the critic.

        The rule (documented in the config): GAE runs un-whitened (``estimator_kwargs`` may not set ``whiten``),
        the critic regresses on the raw returns, the policy sees the whitened advantages.
        """
        assert scored.values is not None
        kw = {**self.cfg.estimator_call_kwargs(), "whiten": False}  # whiten is not a user setting here
        adv = np.asarray(advantages.get("gae")(batch, **kw), dtype=np.float64)
        return dataclasses.replace(scored, advantages=whiten(adv, batch, protocol=self.cfg.protocol, eps=1e-8),
                                   returns=adv + scored.values)

    def extra_loss(self, batch: StepBatch, scored: ScoredBatch, rows: np.ndarray, packed: Packed,
                   n_seqs: float) -> torch.Tensor:
        """The clipped value loss of the micro-batch ``rows`` (normalised by the minibatch's step count)."""
        assert scored.returns is not None and scored.values is not None
        self.critic.train()
        v = self.critic(packed)
        ret = torch.as_tensor(scored.returns[rows], dtype=torch.float32, device=v.device)
        old = torch.as_tensor(scored.values[rows], dtype=torch.float32, device=v.device)
        loss = (v - ret) ** 2
        if self.cfg.value_clip > 0:
            vc = old + torch.clamp(v - old, -self.cfg.value_clip, self.cfg.value_clip)
            loss = torch.maximum(loss, (vc - ret) ** 2)
        return self.cfg.vf_coef * 0.5 * loss.sum() / n_seqs
