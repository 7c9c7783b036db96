"""The scoring forward pass: per-token log-probs and exact full-vocabulary entropies of response tokens.

A *sample* is one agent turn: ``prompt_token_ids + token_ids`` (the response). The model sees the whole
sequence (right-padded in a batch); the logits at position ``p + j - 1`` give the distribution of response
token ``j`` (``p`` = prompt length). Entropies are ``-sum_v p(v) log p(v)`` over the full vocabulary,
computed in float32 from the logits divided by the sampling temperature (at the paper's temperature 1
these are EMPG's token entropies of the sampling policy). Outputs are ``[B, R]`` tensors aligned so that
column ``j`` is response token ``j``, with a mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Packed:
    """A right-padded micro-batch of samples.

    Attributes:
        input_ids: ``[B, L]`` prompt + response tokens, right-padded.
        attention_mask: ``[B, L]``.
        resp_index: ``[B, R]`` position of the logits predicting response token j (clamped where padded).
        resp_ids: ``[B, R]`` response token ids (0 where padded).
        resp_mask: ``[B, R]`` float, 1 on real response tokens.
        last_prompt_index: ``[B]`` position of the last prompt token (the state's hidden state, for critics).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    resp_index: torch.Tensor
    resp_ids: torch.Tensor
    resp_mask: torch.Tensor
    last_prompt_index: torch.Tensor

    def to(self, device: torch.device | str) -> Packed:
        """Move every tensor to ``device``."""
        return Packed(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def pack(samples: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = 0) -> Packed:
    """Pack ``(prompt_ids, response_ids)`` pairs into a right-padded batch.

    Raises:
        ValueError: If a sample has an empty prompt or an empty response.
    """
    if not samples:
        raise ValueError("pack: no samples")
    lens = [(len(p), len(r)) for p, r in samples]
    if any(p == 0 or r == 0 for p, r in lens):
        raise ValueError("pack: every sample needs a non-empty prompt and a non-empty response")
    b = len(samples)
    length = max(p + r for p, r in lens)
    rmax = max(r for _, r in lens)
    ids = torch.full((b, length), pad_id, dtype=torch.long)
    att = torch.zeros((b, length), dtype=torch.long)
    ridx = torch.zeros((b, rmax), dtype=torch.long)
    rids = torch.zeros((b, rmax), dtype=torch.long)
    rmask = torch.zeros((b, rmax), dtype=torch.float32)
    last = torch.zeros(b, dtype=torch.long)
    for i, ((p_ids, r_ids), (p, r)) in enumerate(zip(samples, lens, strict=True)):
        ids[i, :p] = torch.as_tensor(list(p_ids), dtype=torch.long)
        ids[i, p:p + r] = torch.as_tensor(list(r_ids), dtype=torch.long)
        att[i, :p + r] = 1
        ridx[i, :r] = torch.arange(p - 1, p - 1 + r)
        ridx[i, r:] = p - 1 + r - 1
        rids[i, :r] = ids[i, p:p + r]
        rmask[i, :r] = 1.0
        last[i] = p - 1
    return Packed(ids, att, ridx, rids, rmask, last)


def response_logits(model: torch.nn.Module, batch: Packed, *, output_hidden: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits ``[B, R, V]`` predicting each response token, and optionally hidden states ``[B, L, H]``."""
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                output_hidden_states=output_hidden, use_cache=False)
    logits = out.logits  # [B, L, V]
    idx = batch.resp_index.unsqueeze(-1).expand(-1, -1, logits.shape[-1])  # [B, R, V]
    hidden = out.hidden_states[-1] if output_hidden else None
    return torch.gather(logits, 1, idx), hidden


def token_logprobs_entropy(
    logits: torch.Tensor, resp_ids: torch.Tensor, *, temperature: float = 1.0, with_entropy: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs ``[B, R]`` of ``resp_ids`` and exact entropies ``[B, R]`` from logits ``[B, R, V]``."""
    logp_all = torch.log_softmax(logits.float() / temperature, dim=-1)  # [B, R, V]
    logp = torch.gather(logp_all, -1, resp_ids.unsqueeze(-1)).squeeze(-1)
    ent = -(logp_all.exp() * logp_all).sum(-1) if with_entropy else None
    return logp, ent


@torch.no_grad()
def score(
    model: torch.nn.Module,
    samples: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    micro_batch_size: int = 8,
    temperature: float = 1.0,
    with_entropy: bool = True,
    pad_id: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """Per-sample response log-probs (and entropies) under ``model``, as lists of 1-D float32 CPU tensors.

    Samples are scored in micro-batches of similar length (sorted by length) to limit padding.
    """
    order = sorted(range(len(samples)), key=lambda i: len(samples[i][0]) + len(samples[i][1]))
    logps: list[torch.Tensor | None] = [None] * len(samples)
    ents: list[torch.Tensor | None] = [None] * len(samples)
    was_training = model.training
    model.eval()
    for s in range(0, len(order), micro_batch_size):
        chunk = order[s:s + micro_batch_size]
        pb = pack([samples[i] for i in chunk], pad_id).to(device)
        logits, _ = response_logits(model, pb)
        lp, ent = token_logprobs_entropy(logits, pb.resp_ids, temperature=temperature,
                                         with_entropy=with_entropy)
        for row, i in enumerate(chunk):
            r = len(samples[i][1])
            logps[i] = lp[row, :r].float().cpu()
            if ent is not None:
                ents[i] = ent[row, :r].float().cpu()
    model.train(was_training)
    return logps, (ents if with_entropy else None)  # type: ignore[return-value]
