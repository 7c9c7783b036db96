"""Action modes: few-shot examples and the choose mode's selection logic (with a scripted scorer)."""

from __future__ import annotations

import numpy as np
import pytest

from empg_gym.policy import AgentSpec
from empg_gym.policy.modes import (
    SEARCH_R1_FORMS,
    SLOT_MAX_CHARS,
    FewShotTemplate,
    action_constraint,
    action_pattern,
    choose_actions,
    split_placeholder,
    template_for,
)
from empg_gym.prompting import get_template
from empg_gym.types import History


class _CharTok:
    """A character tokenizer: ids are code points."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


def _choose(histories, score, slot=None, greedy=True, rng=None, choice_score="mean"):
    tok = _CharTok()
    return choose_actions(histories, tokenizer=tok, prompt_for=lambda h: ("P", [80]),
                          template_for_history=lambda h: get_template("auto", h.env_id), score=score,
                          generate_free=lambda hs: pytest.fail("no free generation expected"),
                          generate_slot=slot, temperature=1.0, greedy=greedy,
                          rng=rng if rng is not None else np.random.default_rng(0), choice_score=choice_score)


def _scripted(scores, calls):
    tok = _CharTok()

    def score(prompt, conts):
        calls.append([tok.decode(c) for c in conts])
        return [([scores.get(tok.decode(c), -5.0)] * len(c), [1.0] * len(c)) for c in conts]

    return score


def _slot(text):
    return lambda prompts, stop: [[ord(c) for c in text] for _ in prompts]


def test_choose_takes_the_best_mean_logprob_and_records_its_tokens():
    h = History("empg/ALFWorld-v0", "t", (), "obs", ("look", "go to fridge 1", "open fridge 1"))
    calls = []
    s = _choose([h], _scripted({"go to fridge 1</action>": -0.5, "look</action>": -0.9}, calls))[0]
    assert calls == [["look</action>", "go to fridge 1</action>", "open fridge 1</action>"]]
    assert (s.action, s.text, s.format_valid) == ("go to fridge 1", "<action>go to fridge 1</action>", True)
    assert s.prompt == "P<action>" and s.prompt_token_ids == (80, *[ord(c) for c in "<action>"])
    assert s.token_ids == tuple(ord(c) for c in "go to fridge 1</action>")
    assert s.logprobs == (-0.5,) * len(s.token_ids) and s.entropies == (1.0,) * len(s.token_ids)


def test_choose_samples_from_softmax_of_scores_when_not_greedy():
    h = History("empg/ALFWorld-v0", "t", (), "obs", ("a", "b"))
    # mean scores -1 and -1 - ln 3: probabilities 3/4 and 1/4 at T = 1
    sc = {"a</action>": -1.0, "b</action>": -1.0 - np.log(3)}
    rng = np.random.default_rng(1)
    picks = [_choose([h], _scripted(sc, []), greedy=False, rng=rng)[0].action for _ in range(2000)]
    assert abs(picks.count("a") / 2000 - 0.75) < 0.03


def test_placeholder_is_forced_and_its_argument_generated():
    h = History("empg/WebShop-v0", "t", (), "obs", ("search[<your query>]",))
    s = _choose([h], _scripted({}, []), slot=_slot("Red  Shirt]"))[0]
    assert (s.action, s.format_valid, s.prompt) == ("search[red shirt]", True, "P<action>search[")


def test_search_r1_picks_the_likelier_form_then_generates_its_content():
    h = History("empg/DeepSearch-v0", "who?", (), "who?", None)
    calls = []
    sc = _scripted({"<answer> ": -0.1, "<search> ": -2.0}, calls)
    s = _choose([h], sc, slot=_slot("Paris </answer>"))[0]
    assert calls == [["<search> ", "<answer> "]]
    assert s.action == "<answer> Paris </answer>" and s.format_valid
    assert get_template("search_r1").parse(s.action).format_valid


def test_split_placeholder():
    assert split_placeholder("search[<your query>]") == ("search[", "]")
    assert split_placeholder("<search> <search query> </search>") == ("<search> ", " </search>")
    assert split_placeholder("click[< prev]") is None
    assert split_placeholder("go to fridge 1") is None


def test_few_shot_template_wraps_the_base(monkeypatch):
    import empg_gym.policy.modes as modes

    monkeypatch.setattr(modes, "expert_examples", lambda env_id, n: f"EXAMPLES x{n}")
    t = template_for(AgentSpec(backend="random", few_shot=2), "empg/KeyDoor-v0")
    assert isinstance(t, FewShotTemplate) and t.stop == get_template("react").stop
    h = History("empg/KeyDoor-v0", "find the key", (), "a room", ("go north",))
    assert t.user_message(h, 2) == "EXAMPLES x2\n\n" + get_template("react").user_message(h, 2)
    assert t.parse("<think>x</think><action>go north</action>").action == "go north"
    assert template_for(AgentSpec(backend="random"), "empg/KeyDoor-v0") is get_template("react")


def test_choice_score_sum_is_the_actions_log_probability():
    """``sum``: an action's score is its log-probability, so a long action is not favoured by its mean."""
    h = History("empg/ALFWorld-v0", "t", (), "obs", ("ab", "abcdef"))
    # per-token log-probs: "ab</action>" 11 tokens at -0.3 (sum -3.3); "abcdef</action>" 15 at -0.25 (sum -3.75)
    def score(prompt, conts):
        return [([-0.3 if len(c) == 11 else -0.25] * len(c), [0.0] * len(c)) for c in conts]

    assert _choose([h], score)[0].action == "abcdef"  # the better mean
    assert _choose([h], score, choice_score="sum")[0].action == "ab"  # the likelier action
    # sampled: probabilities exp(-3.3) : exp(-3.75) = 0.611 : 0.389
    rng = np.random.default_rng(3)
    picks = [_choose([h], score, greedy=False, rng=rng, choice_score="sum")[0].action for _ in range(2000)]
    assert abs(picks.count("ab") / 2000 - 1 / (1 + np.exp(-0.45))) < 0.03


def test_spec_validates_action_modes():
    with pytest.raises(ValueError, match="choice_score"):
        AgentSpec(backend="transformers", model="tiny:qwen2", action_mode="choose", choice_score="max")
    assert "choice_score" not in AgentSpec(backend="random").to_dict()
    assert AgentSpec(backend="random", choice_score="sum").to_dict()["choice_score"] == "sum"
    with pytest.raises(ValueError, match="action_mode"):
        AgentSpec(backend="transformers", model="tiny:qwen2", action_mode="constrained")
    with pytest.raises(ValueError, match="few_shot"):
        AgentSpec(backend="random", few_shot=-1)
    with pytest.raises(ValueError, match="choose"):
        AgentSpec(backend="openai", model="m", base_url="http://x", action_mode="choose")
    assert "action_mode" not in AgentSpec(backend="random").to_dict()
    with pytest.raises(ValueError, match="constrain.*backend vllm"):
        AgentSpec(backend="transformers", model="tiny:qwen2", action_mode="constrain")
    assert AgentSpec(backend="vllm", model="tiny:qwen2", action_mode="constrain").to_dict()["action_mode"] \
        == "constrain"


def test_action_pattern_matches_exactly_the_admissible_actions():
    import re

    acts = ["look", "click[< prev]", "click[b0 (x.2)*]", "search[<your query>]", "go to shelf 1"]
    p = action_pattern(acts, "</action>")
    for a in ["look", "click[< prev]", "click[b0 (x.2)*]", "search[red shirt, size m]", "go to shelf 1"]:
        assert re.fullmatch(p, a + "</action>"), a
    for bad in ["look", "looks</action>", "click[b0 (xx2)*]</action>", "search[]</action>",
                "search[a]b]</action>", "search[<b>]</action>", "search[a\nb]</action>", "go to shelf 2</action>",
                "search[" + "a" * (SLOT_MAX_CHARS + 1) + "]</action>"]:
        assert not re.fullmatch(p, bad), bad
    assert re.fullmatch(p, "search[" + "a" * SLOT_MAX_CHARS + "]</action>")
    assert "\\ " not in p and "\\-" not in p  # only metacharacters are escaped
    with pytest.raises(ValueError, match="no actions"):
        action_pattern([])


def test_action_constraint_per_template_and_projection():
    import re

    react = get_template("auto", "empg/ALFWorld-v0")
    h = History("empg/ALFWorld-v0", "t", (), "obs", ("Go to Fridge 1", "look"))
    c = action_constraint(react, h)
    assert c is not None and c.opening == "<action>" and re.fullmatch(c.pattern, "look</action>")
    s = c.project(react, "Go to Fridge 1</action>", h)
    assert (s.action, s.format_valid, s.format_error) == ("go to fridge 1", True, "")  # the template's projection
    cut = c.project(react, "Go to Fri", h)  # decoding stopped at max_new_tokens
    assert (cut.action, cut.format_valid) == ("", False) and "max_new_tokens" in cut.format_error
    assert action_constraint(react, History("empg/ALFWorld-v0", "t", (), "obs", None)) is None
    # Search-R1: the open forms, even when the env suggests a few actions (DeepSearch's suggestions)
    sr1 = get_template("auto", "empg/DeepSearch-v0")
    hs = History("empg/DeepSearch-v0", "who?", (), "who?", ("<search> who? </search>",))
    c = action_constraint(sr1, hs)
    assert c is not None and c.opening == "" and c.pattern == action_pattern(SEARCH_R1_FORMS)
    s = c.project(sr1, "<answer> Paris </answer>", hs)
    assert s.action == "<answer> Paris </answer>" and s.format_valid
    assert action_constraint(FewShotTemplate(name="f", base=sr1, stop=sr1.stop), hs) == c  # the base decides


@pytest.mark.slow
def test_hf_scorer_equals_a_full_forward_pass():
    """The shared-prefill scorer gives the log-probs and entropies of one forward over prompt + candidate."""
    torch = pytest.importorskip("torch")
    from empg_gym.policy.hf import hf_scorer
    from empg_gym.policy.tiny import tiny_model_and_tokenizer

    m, tok = tiny_model_and_tokenizer(seed=0)
    prompt = tok("go north take key", add_special_tokens=False)["input_ids"]
    conts = [tok(x, add_special_tokens=False)["input_ids"] for x in ("open door", "go", "guess 12 higher")]
    got = hf_scorer(m)(prompt, conts)
    for c, (lp, ent) in zip(conts, got, strict=True):
        with torch.no_grad():
            logits = m(torch.tensor([prompt + c])).logits[0, len(prompt) - 1:-1].float()
        logp = torch.log_softmax(logits, -1)
        want_lp = logp.gather(-1, torch.tensor(c)[:, None]).squeeze(-1)
        want_ent = -(logp.exp() * logp).sum(-1)
        assert torch.allclose(torch.tensor(lp), want_lp, atol=1e-4)
        assert torch.allclose(torch.tensor(ent), want_ent, atol=1e-4)
