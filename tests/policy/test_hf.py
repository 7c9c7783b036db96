"""TransformersAgent and its decode loop on tiny random models (no downloads)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import empg_gym  # noqa: E402,F401
from empg_gym.policy import AgentSpec, load_agent  # noqa: E402
from empg_gym.policy.hf import TransformersAgent, _filter_logits, sample  # noqa: E402
from empg_gym.policy.tiny import tiny_model_and_tokenizer  # noqa: E402
from empg_gym.prompting import get_template  # noqa: E402
from empg_gym.rollout import collect  # noqa: E402
from empg_gym.types import History  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Two OpenMP threads on a shared 2-core machine spin against other processes: tiny models run ~50x
    # slower. One thread is fast and deterministic; the setting is restored afterwards.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny():
    return tiny_model_and_tokenizer(seed=0)


def agent_for(tiny, **sampling):
    model, tok = tiny
    spec = AgentSpec(backend="transformers", model="tiny:qwen2", sampling={"max_new_tokens": 12, **sampling})
    return TransformersAgent(model, tok, spec)


def recompute(model, prompt_ids, resp_ids, temperature):
    ids = torch.tensor([list(prompt_ids) + list(resp_ids)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    p = len(prompt_ids)
    z = logits[p - 1: p - 1 + len(resp_ids)] / temperature  # [R, V]
    logp = torch.log_softmax(z, -1)
    lp = logp.gather(-1, torch.tensor(resp_ids)[:, None]).squeeze(-1)
    ent = -(logp.exp() * logp).sum(-1)
    return lp, ent


def test_rollout_logprobs_and_entropies_match_a_separate_forward_pass(tiny):
    model, tok = tiny
    agent = agent_for(tiny, temperature=0.7, top_k=40, top_p=0.95)
    trajs = collect(agent, "empg/KeyDoor-v0", tasks=[{"task_index": 3}, {"task_index": 8}], group_size=2,
                    seed=5, max_steps=2, progress=False)
    assert [t.group_id for t in trajs] == [0, 0, 1, 1]
    assert [t.task_id for t in trajs] == ["keydoor3-3", "keydoor3-3", "keydoor3-8", "keydoor3-8"]
    assert trajs[0].task == trajs[1].task != trajs[2].task
    n = 0
    for t in trajs:
        assert len(t) == 2 and t.turns[-1].truncated and not t.turns[-1].terminated
        for turn in t.turns:
            assert 1 <= len(turn.token_ids) <= 12
            assert len(turn.logprobs) == len(turn.entropies) == len(turn.token_ids)
            assert list(turn.prompt_token_ids) == tok(turn.prompt, add_special_tokens=False)["input_ids"]
            assert turn.prompt.startswith("<|im_start|>user\n")
            assert turn.prompt.endswith("<|im_start|>assistant\n")
            assert t.task in turn.prompt
            assert turn.response == tok.decode(turn.token_ids, skip_special_tokens=True)
            lp, ent = recompute(model, turn.prompt_token_ids, turn.token_ids, 0.7)
            assert torch.allclose(torch.tensor(turn.logprobs), lp, atol=1e-4, rtol=0)
            assert torch.allclose(torch.tensor(turn.entropies), ent, atol=1e-4, rtol=0)
            assert all(0 < e <= torch.log(torch.tensor(float(len(tok)))) + 1e-5 for e in turn.entropies)
            n += 1
    assert n == 8
    # copies of one task sample differently
    assert trajs[0].turns[0].token_ids != trajs[1].turns[0].token_ids
    # the second turn's prompt shows the first turn's observation and action (history_length 2)
    second = trajs[0].turns[1]
    assert "[Observation 1:" in second.prompt and "Action 1:" in second.prompt


def test_same_seed_same_rollout(tiny):
    a = collect(agent_for(tiny), "empg/GuessNumber-v0", tasks=2, group_size=2, seed=1, max_steps=2,
                progress=False)
    b = collect(agent_for(tiny), "empg/GuessNumber-v0", tasks=2, group_size=2, seed=1, max_steps=2,
                progress=False)
    c = collect(agent_for(tiny), "empg/GuessNumber-v0", tasks=2, group_size=2, seed=2, max_steps=2,
                progress=False)
    tok_ids = lambda trajs: [[x.token_ids for x in t.turns] for t in trajs]  # noqa: E731
    assert tok_ids(a) == tok_ids(b) != tok_ids(c)


def test_left_padded_batch_equals_one_at_a_time(tiny):
    model, tok = tiny
    prompts = [tok("go north", add_special_tokens=False)["input_ids"],
               tok("You are in the blue room. Exits: north, east.", add_special_tokens=False)["input_ids"],
               tok("guess 8", add_special_tokens=False)["input_ids"]]
    batched = sample(model, tok, prompts, max_new_tokens=10, greedy=True)
    for p, g in zip(prompts, batched, strict=False):
        (single,) = sample(model, tok, [p], max_new_tokens=10, greedy=True)
        assert g.token_ids == single.token_ids
        assert g.logprobs == pytest.approx(single.logprobs, abs=1e-4)
        assert g.entropies == pytest.approx(single.entropies, abs=1e-4)
    # rows that end early (EOS) leave the batch; the others must be unaffected
    early = batched[1].token_ids[1]
    model.generation_config.eos_token_id = [tok.eos_token_id, early]
    try:
        again = sample(model, tok, prompts, max_new_tokens=10, greedy=True)
        singles = [sample(model, tok, [p], max_new_tokens=10, greedy=True)[0] for p in prompts]
    finally:
        model.generation_config.eos_token_id = tok.eos_token_id
    assert len(again[1].token_ids) <= 2
    assert any(len(g.token_ids) > len(again[1].token_ids) for g in again)
    for g, single in zip(again, singles, strict=False):
        assert g.token_ids == single.token_ids
        assert g.logprobs == pytest.approx(single.logprobs, abs=1e-4)


def test_identical_prompts_share_one_prefill_and_still_sample_independently(tiny):
    model, tok = tiny
    a = tok("go north", add_special_tokens=False)["input_ids"]
    b = tok("You are in the blue room.", add_special_tokens=False)["input_ids"]
    prompts = [a, b, a, a, b]
    greedy = sample(model, tok, prompts, max_new_tokens=8, greedy=True)
    (ga,) = sample(model, tok, [a], max_new_tokens=8, greedy=True)
    (gb,) = sample(model, tok, [b], max_new_tokens=8, greedy=True)
    for p, g in zip(prompts, greedy, strict=False):
        want = ga if p is a else gb
        assert g.token_ids == want.token_ids
        assert g.logprobs == pytest.approx(want.logprobs, abs=1e-4)
    gen = torch.Generator().manual_seed(0)
    sampled = sample(model, tok, prompts, max_new_tokens=8, generator=gen)
    assert len({tuple(sampled[i].token_ids) for i in (0, 2, 3)}) > 1  # same prompt, different samples
    for p, g in zip(prompts, sampled, strict=False):
        lp, ent = recompute(model, p, g.token_ids, 1.0)
        assert torch.allclose(torch.tensor(g.logprobs), lp, atol=1e-4, rtol=0)


def test_stop_strings_and_eos_end_a_sequence(tiny):
    model, tok = tiny
    prompt = tok("go north", add_special_tokens=False)["input_ids"]
    (full,) = sample(model, tok, [prompt], max_new_tokens=12, greedy=True)
    assert len(full.token_ids) == 12
    # a stop string equal to the text of token 4 ends the sequence right there
    k = next(i for i in range(3, 12) if tok.decode([full.token_ids[i]]).strip())
    stop = tok.decode([full.token_ids[k]]).strip()
    (cut,) = sample(model, tok, [prompt], max_new_tokens=12, greedy=True, stop=[stop])
    assert cut.token_ids == full.token_ids[: len(cut.token_ids)]
    assert stop in tok.decode(cut.token_ids) and stop not in tok.decode(cut.token_ids[:-1])
    # an EOS token ends it too, and is kept
    model.generation_config.eos_token_id = [tok.eos_token_id, full.token_ids[2]]
    try:
        (e,) = sample(model, tok, [prompt], max_new_tokens=12, greedy=True)
    finally:
        model.generation_config.eos_token_id = tok.eos_token_id
    stop_at = next(i for i, t in enumerate(full.token_ids) if t == full.token_ids[2])
    assert e.token_ids == full.token_ids[: stop_at + 1]


def test_top_k_one_is_greedy_and_filters():
    z = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert torch.isinf(_filter_logits(z, 1, 1.0)).tolist() == [[True, False, True, True]]
    # probs: softmax -> [0.0871, 0.6439, 0.2369, 0.0321]; top_p 0.7 keeps the two largest
    kept = ~torch.isinf(_filter_logits(z, 0, 0.7))
    assert kept.tolist() == [[False, True, True, False]]
    assert (~torch.isinf(_filter_logits(z, 0, 0.5))).tolist() == [[False, True, False, False]]


def test_greedy_agent_and_top_k_one_agree(tiny):
    h = History("empg/KeyDoor-v0", "open the door", (), "You are in the red room.", ("go east", "go south"))
    g = agent_for(tiny, greedy=True).act([h])[0]
    k1 = agent_for(tiny, top_k=1).act([h])[0]
    assert g.token_ids == k1.token_ids


def test_response_prefix_is_part_of_the_prompt_and_of_the_parse(tiny):
    model, tok = tiny
    spec = AgentSpec(backend="transformers", model="tiny:qwen2", extra={"response_prefix": "<think>"},
                     sampling={"max_new_tokens": 4, "greedy": True})
    agent = TransformersAgent(model, tok, spec)
    h = History("empg/KeyDoor-v0", "open the door", (), "You are in the red room.", ("go east",))
    (s,) = agent.act([h])
    assert s.prompt.endswith("<|im_start|>assistant\n<think>")
    assert list(s.prompt_token_ids) == tok(s.prompt, add_special_tokens=False)["input_ids"]
    assert not s.text.startswith("<think>")
    assert agent.response_prefix == "<think>"
    p = get_template("react").parse("<think>" + "east is open</think><action>go east</action>")
    assert p.format_valid  # what the agent parses when the model closes the prefixed think block


def test_bad_model_inputs(tiny, tmp_path):
    model, tok = tiny
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_agent({"backend": "transformers", "model": str(tmp_path / "nope")})
    no_template = tok.__class__(tokenizer_object=tok.backend_tokenizer)
    with pytest.raises(ValueError, match="no chat template"):
        TransformersAgent(model, no_template)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample(model, tok, [[1, 2]], temperature=0.0)


def test_checkpoint_folder_with_lora_loads_and_merges(tiny, tmp_path):
    peft = pytest.importorskip("peft")
    model, tok = tiny_model_and_tokenizer(seed=1)
    base = tmp_path / "base"
    model.save_pretrained(base)
    tok.save_pretrained(base)
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                      init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    AgentSpec(backend="transformers", model=str(base), lora=str(tmp_path / "adapter"),
              sampling={"greedy": True, "max_new_tokens": 4}).save(base)
    agent = load_agent(base)
    ids = torch.tensor([tok("go north", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        want = lora(input_ids=ids).logits
        got = agent.model(input_ids=ids).logits
        plain = model.get_base_model()(input_ids=ids).logits if hasattr(model, "get_base_model") else None
    assert torch.allclose(want, got, atol=1e-5)
    assert not hasattr(agent.model, "peft_config")
    del plain
