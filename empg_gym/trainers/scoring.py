"""The scoring forward pass: per-token log-probs and exact full-vocabulary entropies of response tokens.

A *sample* is one agent turn: ``prompt_token_ids + token_ids`` (the response). The model sees the whole
sequence (right-padded in a batch); the logits at position ``p + j - 1`` give the distribution of response
token ``j`` (``p`` = prompt length). Entropies are ``-sum_v p(v) log p(v)`` over the full vocabulary,
computed in float32 from the logits divided by the sampling temperature (at the paper's temperature 1
these are EMPG's token entropies of the sampling policy). Outputs are ``[B, R]`` tensors aligned so that
column ``j`` is response token ``j``, with a mask.

:func:`score_rows` scores the rows of a :class:`~empg_gym.types.StepBatch` (its ``prompt_ids`` and
``response_ids`` columns) and returns :class:`TokenScores`: ``[N, R]`` tensors whose row ``i`` is step ``i``
of the batch, whatever order the micro-batches were scored in. Steps without a prompt or a response (nothing
to score) keep an all-zero mask row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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


def at_response_positions(x: torch.Tensor, batch: Packed) -> torch.Tensor:
    """``x[b, batch.resp_index[b, j]]``: ``[B, L, D]`` -> ``[B, R, D]`` (hidden states or logits)."""
    return torch.gather(x, 1, batch.resp_index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def response_logits(model: torch.nn.Module, batch: Packed) -> torch.Tensor:
    """Logits ``[B, R, V]`` predicting each response token.

    Only the response positions go through the output layer: a pre-hook on the model's output embeddings
    gathers their hidden states, so the ``[B, L, V]`` logits of the prompt are never built (with a small
    model and a large vocabulary the output layer is most of the forward and backward cost). A model whose
    output layer is not called as a module gets the full logits, gathered afterwards (same values).
    """
    get_head = getattr(model, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    ran: list[bool] = []
    handle = None
    if isinstance(head, torch.nn.Module):
        def keep_response_positions(_module: torch.nn.Module, args: tuple) -> tuple:
            hidden = args[0]  # [B, L, H]
            if ran or hidden.dim() != 3 or hidden.shape[:2] != batch.input_ids.shape:
                return args
            ran.append(True)
            return (at_response_positions(hidden, batch), *args[1:])

        handle = head.register_forward_pre_hook(keep_response_positions)
    try:
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    finally:
        if handle is not None:
            handle.remove()
    logits = out.logits
    if ran:
        return logits  # [B, R, V]
    return at_response_positions(logits, batch)  # [B, R, V]


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
        logits = response_logits(model, pb)
        lp, ent = token_logprobs_entropy(logits, pb.resp_ids, temperature=temperature,
                                         with_entropy=with_entropy)
        for row, i in enumerate(chunk):
            r = len(samples[i][1])
            logps[i] = lp[row, :r].float().cpu()
            if ent is not None:
                ents[i] = ent[row, :r].float().cpu()
    model.train(was_training)
    return logps, (ents if with_entropy else None)  # type: ignore[return-value]


@dataclass(frozen=True)
class TokenScores:
    """Per-token scores of N samples, right-padded to the longest response R (row i = sample i).

    Attributes:
        logp: ``[N, R]`` float32 log-probs of the response tokens (0 where ``mask`` is 0).
        mask: ``[N, R]`` float32, 1 on response tokens; an all-zero row is a sample with nothing to score.
        entropy: ``[N, R]`` float32 full-vocabulary token entropies (0 where masked), or None.
    """

    logp: torch.Tensor
    mask: torch.Tensor
    entropy: torch.Tensor | None


def pad_rows(rows: Sequence[torch.Tensor | None], width: int) -> torch.Tensor:
    """Stack 1-D tensors (None = empty) into a zero-padded ``[len(rows), width]`` float32 tensor."""
    out = torch.zeros(len(rows), width)
    for i, r in enumerate(rows):
        if r is not None and len(r):
            out[i, :len(r)] = r
    return out


def score_rows(
    model: torch.nn.Module,
    prompt_ids: Sequence[Sequence[int]] | np.ndarray,
    response_ids: Sequence[Sequence[int]] | np.ndarray,
    *,
    micro_batch_size: int = 8,
    temperature: float = 1.0,
    with_entropy: bool = True,
    pad_id: int = 0,
    device: torch.device | str = "cpu",
) -> TokenScores:
    """:func:`score` over aligned prompt/response columns (e.g. a StepBatch's), as padded ``[N, R]`` tensors.

    Rows with an empty prompt or response are not scored: their ``mask`` row is all zero.
    """
    if len(prompt_ids) != len(response_ids):
        raise ValueError(f"score_rows: {len(prompt_ids)} prompts but {len(response_ids)} responses")
    n = len(prompt_ids)
    width = max((len(r) for r in response_ids), default=0)
    live = [i for i in range(n) if len(prompt_ids[i]) and len(response_ids[i])]
    lps, ents = score(model, [(prompt_ids[i], response_ids[i]) for i in live], micro_batch_size=micro_batch_size,
                      temperature=temperature, with_entropy=with_entropy, pad_id=pad_id, device=device)
    by_row_lp: list[torch.Tensor | None] = [None] * n
    by_row_ent: list[torch.Tensor | None] = [None] * n
    for j, i in enumerate(live):
        by_row_lp[i] = lps[j]
        if ents is not None:
            by_row_ent[i] = ents[j]
    mask = torch.zeros(n, width)
    for i in live:
        mask[i, :len(response_ids[i])] = 1.0
    return TokenScores(logp=pad_rows(by_row_lp, width), mask=mask,
                       entropy=pad_rows(by_row_ent, width) if with_entropy else None)


@dataclass(frozen=True)
class ScoredBatch:
    """What the trainer computes for one rollout batch, row-aligned with its :class:`~empg_gym.types.StepBatch`.

    Row ``i`` of every field is step ``i`` of the batch (N steps; R = the longest response). The scoring pass
    fills the log-probs, mask and entropies (and PPO the critic's values); the estimator step returns a copy
    with ``advantages`` (and PPO's value targets ``returns``); the update reads nothing else.

    Attributes:
        old_logp: ``[N, R]`` float32 log-probs of the response tokens under the rollout policy (0 off-mask).
        mask: ``[N, R]`` float32, 1 on response tokens; all-zero rows (nothing to score) take no part in the
            update.
        ref_logp: ``[N, R]`` float32 log-probs under the reference policy (``kl_coef > 0``), or None.
        step_entropy: ``[N]`` float64 mean token entropy of each step (EMPG's step entropy). A step with
            nothing to score gets the mean over the scored steps, not 0 (which would make it the batch's
            most confident step).
        values: ``[N]`` float64 critic values V(s) of each step's state (PPO), or None.
        advantages: ``[N]`` float64 advantage of each step (spread over its tokens), or None before the
            estimator ran.
        returns: ``[N]`` float64 value targets ``A + V`` (PPO), or None.
    """

    old_logp: torch.Tensor
    mask: torch.Tensor
    ref_logp: torch.Tensor | None
    step_entropy: np.ndarray
    values: np.ndarray | None = None
    advantages: np.ndarray | None = None
    returns: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, r = self.mask.shape
        if self.old_logp.shape != (n, r) or (self.ref_logp is not None and self.ref_logp.shape != (n, r)):
            raise ValueError(f"ScoredBatch: log-probs must have the mask's shape {(n, r)}")
        for name in ("step_entropy", "values", "advantages", "returns"):
            x = getattr(self, name)
            if x is not None and np.shape(x) != (n,):
                raise ValueError(f"ScoredBatch.{name} must have shape ({n},), got {np.shape(x)}")

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    @property
    def live(self) -> np.ndarray:
        """Row indices of the steps with at least one scored token (the rows the update trains on)."""
        return np.flatnonzero(self.mask.sum(-1).numpy() > 0)

    @property
    def n_tokens(self) -> int:
        """Scored response tokens in the batch."""
        return int(self.mask.sum())


def step_entropies(scores: TokenScores) -> np.ndarray:
    """``[N]`` mean token entropy per row; rows with nothing scored get the mean of the scored rows."""
    if scores.entropy is None:
        raise ValueError("step_entropies: the scores have no entropies (score with with_entropy=True)")
    count = scores.mask.sum(-1).long().tolist()
    out = np.zeros(len(count))
    live = np.asarray(count) > 0
    for i, c in enumerate(count):
        if c:
            out[i] = float(scores.entropy[i, :c].mean())  # float32 mean, as the rollout records it
    if live.any() and not live.all():
        out[~live] = out[live].mean()
    return out
