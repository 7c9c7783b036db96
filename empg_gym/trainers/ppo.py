r"""PPO: the shared policy-gradient loop plus a critic and GAE over turns.

Paper: Schulman et al., "Proximal Policy Optimization Algorithms", arXiv 1707.06347; GAE: arXiv 1506.02438.

The critic is a separate copy of the initial policy network with a linear value head on the last hidden
state of the *last prompt token* (the state the turn acted on): :math:`V(s_t)`. Each iteration:

1. rollout, shaped rewards and the scoring pass as in :class:`~empg_gym.trainers.pg.PGTrainer`;
2. the critic values every step; ``gae`` (the registered estimator, with ``estimator_kwargs``) gives
   :math:`A_t`; the value targets are :math:`R_t = A_t + V_t`; the policy sees the advantages whitened over
   the batch (per token under ``protocol: verl-agent``, as verl; per step otherwise);
3. the minibatch updates add ``vf_coef`` x the clipped value loss
   :math:`\tfrac12 \max\big((V - R)^2, (V_{old} + \operatorname{clip}(V - V_{old}, \pm c) - R)^2\big)`
   (mean over the minibatch's steps) to the clipped policy loss; the critic has its own learning rate.

Only what differs from the shared loop lives here (four hooks of ``PGTrainer``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from empg_gym import advantages
from empg_gym.advantages._common import whiten
from empg_gym.trainers.pg import PGTrainer, build_model
from empg_gym.trainers.scoring import Packed, pack
from empg_gym.types import StepBatch, Trajectory


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
    def values(self, samples: Sequence[tuple[Sequence[int], Sequence[int]]]) -> np.ndarray:
        """Critic values of every step's state, ``[N]``."""
        out = np.zeros(len(samples))
        self.critic.eval()
        mbs = self.cfg.micro_batch_size
        for s in range(0, len(samples), mbs):
            chunk = [(p, r if len(r) else (self.pad_id,)) for p, r in samples[s:s + mbs]]
            v = self.critic(pack(chunk, self.pad_id).to(self.device))
            out[s:s + len(chunk)] = v.float().cpu().numpy()
        return out

    def step_batch(self, trajs: Sequence[Trajectory], rewards: Sequence[Sequence[float]],
                   scored: dict[str, Any]) -> StepBatch:
        """The shared batch plus the critic's values."""
        b = super().step_batch(trajs, rewards, scored)
        return dataclasses.replace(b, value=self.values(scored["samples"]))

    def estimate(self, batch: StepBatch, scored: dict[str, Any]) -> np.ndarray:
        """GAE advantages (whitened for the policy); keeps value targets for the critic."""
        kw = {**self.cfg.estimator_call_kwargs(), "whiten": False}
        adv = np.asarray(advantages.get("gae")(batch, **kw), dtype=np.float64)
        assert batch.value is not None
        self._targets = adv + batch.value
        self._old_values = batch.value
        self._live = scored["live"]
        return whiten(adv, batch, protocol=self.cfg.protocol, eps=1e-8)

    def extra_loss(self, mb_rows: Sequence[int], packed: Any, hidden: Any, n_seqs: float) -> torch.Tensor:
        """The clipped value loss of a micro-batch (normalised by the minibatch's step count)."""
        self.critic.train()
        idx = [self._live[j] for j in mb_rows]
        v = self.critic(packed)
        ret = torch.as_tensor(self._targets[idx], dtype=torch.float32, device=v.device)
        old = torch.as_tensor(self._old_values[idx], dtype=torch.float32, device=v.device)
        loss = (v - ret) ** 2
        if self.cfg.value_clip > 0:
            vc = old + torch.clamp(v - old, -self.cfg.value_clip, self.cfg.value_clip)
            loss = torch.maximum(loss, (vc - ret) ** 2)
        return self.cfg.vf_coef * 0.5 * loss.sum() / n_seqs
