"""The ``vllm`` backend: fast batched generation on a GPU (extra ``vllm``; imported only when used).

Same interface as :class:`~empg_gym.policy.hf.TransformersAgent` and the same prompt path
(:func:`empg_gym.prompting.render_prompt`, including ``extra.response_prefix``); one ``LLM.generate`` call serves
the whole batch, and the sampled token ids and their log-probs come back. Stop strings are kept in the output
(``include_stop_str_in_output``).
Token entropies are not recorded: vLLM returns log-probs of the top tokens only, not the full distribution;
the trainer's scoring pass recomputes exact entropies from the model (``empg_gym.trainers.scoring``).

This module is not exercised on the CPU-only development machine; its test skips when vLLM is absent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from empg_gym._optional import require
from empg_gym.agent import ActionSample
from empg_gym.policy import BACKEND_SETTINGS, DEFAULT_SAMPLING
from empg_gym.prompting import get_template, render_prompt
from empg_gym.types import History

if TYPE_CHECKING:
    from empg_gym.policy import AgentSpec

__all__ = ["VLLMAgent"]


class VLLMAgent:
    """A vLLM engine as a batched agent.

    Args:
        spec: The agent spec (``model`` is a local HF folder or ``pkg:``; ``device`` (``auto``, ``cuda`` or
            ``cuda:N``), ``dtype``, ``seed``, ``sampling``, ``prompt``, ``history_length``, ``logprobs``;
            ``extra``: ``response_prefix`` (as in the transformers backend) and the ``vllm.LLM`` settings of
            :data:`~empg_gym.policy.BACKEND_SETTINGS`, e.g. ``gpu_memory_utilization``).
    """

    needs_expert = False

    def __init__(self, spec: AgentSpec) -> None:
        vllm = require("vllm", why="the vllm backend")
        self.spec = spec
        self.name = spec.display_name
        dtype = "auto" if spec.dtype == "auto" else spec.dtype
        model = str(spec.model)
        if model.startswith("pkg:"):
            from empg_gym.policy.smollm import converted_path

            model = str(converted_path(model.split(":", 1)[1]))
        if spec.device == "cpu":
            raise ValueError("the vllm backend runs on a GPU; use device auto, cuda or cuda:N (or the "
                             "transformers backend on a CPU)")
        if spec.device.startswith("cuda:"):  # vLLM places its engine on the visible devices
            import torch

            if torch.cuda.is_initialized():
                raise ValueError(f"device {spec.device!r}: CUDA already started in this process, so the vllm "
                                 "backend cannot be moved; set CUDA_VISIBLE_DEVICES and use device: cuda")
            os.environ["CUDA_VISIBLE_DEVICES"] = spec.device.split(":", 1)[1]
        engine = {k: v for k, v in spec.extra.items() if k in BACKEND_SETTINGS["vllm"] and k != "response_prefix"}
        self.response_prefix = str(spec.extra.get("response_prefix", ""))
        self.llm = vllm.LLM(model=model, dtype=dtype, seed=spec.seed, **engine)
        self.tokenizer = self.llm.get_tokenizer()
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"the tokenizer of {model} has no chat template; agents need a chat model")
        self._vllm = vllm
        self._seed = spec.seed
        self._calls = 0

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> VLLMAgent:
        """Build from a spec."""
        return cls(spec)

    def set_seed(self, seed: int) -> None:
        """Seed the per-request sampling seeds."""
        self._seed, self._calls = int(seed), 0

    def _params(self, stop: Sequence[str], k: int) -> Any:
        s = {**DEFAULT_SAMPLING, **self.spec.sampling}
        greedy = bool(s.get("greedy")) or float(s["temperature"]) == 0
        return self._vllm.SamplingParams(
            temperature=0.0 if greedy else float(s["temperature"]),
            top_p=float(s["top_p"]), top_k=int(s["top_k"] or -1),
            max_tokens=int(s["max_new_tokens"]), stop=list(stop), include_stop_str_in_output=True,
            logprobs=0 if self.spec.logprobs else None, seed=self._seed + k,
        )

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """One ``generate`` call for the whole batch."""
        templates = [get_template(self.spec.prompt, h.env_id) for h in histories]
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
