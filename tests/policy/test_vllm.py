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
