"""Search-R1 parsing and reward against Search-R1's own outputs (fixture made outside; see its README)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from empg_gym.envs.deepsearch.env import DeepSearchEnv
from empg_gym.envs.deepsearch.protocol import cut_response, exact_match, parse_action
from empg_gym.prompting.templates import SearchR1Template

INFO = re.compile(r"\n\n<information>(?!RESULTS</information>)[^\n]*?</information>\n\n")
FIXTURE = json.loads((Path(__file__).parents[2] / "fixtures/deepsearch/search_r1_reference.json").read_text())


def test_cut_and_action_equal_search_r1_on_2000_responses():
    template = SearchR1Template(name="s")  # parsing="search-r1", the default
    for case in FIXTURE["responses"]:
        r = case["response"]
        assert cut_response(r) == case["cut"], r
        act = parse_action(case["cut"])
        assert (None if act is None else (act.kind, act.content)) == (
            None if case["action"] is None else (case["action"], case["content"])
        ), r
        proj = template.parse(r)
        assert proj.format_valid == (case["action"] is not None), r
        assert proj.action == (case["cut"] if case["action"] is not None else ""), r


def test_strict_parsing_is_kept_as_an_option():
    strict = SearchR1Template(name="s", parsing="strict")
    assert strict.parse("<Search> q </Search>").format_valid  # case-insensitive
    assert not strict.parse("<search></search>").format_valid  # empty block
    default = SearchR1Template(name="s")
    assert not default.parse("<Search> q </Search>").format_valid  # Search-R1: no block
    assert default.parse("<search></search>").format_valid  # Search-R1 executes it
    with pytest.raises(ValueError, match="parsing"):
        SearchR1Template(name="s", parsing="loose")


@pytest.fixture(scope="module")
def episode_env(tmp_path_factory):
    d = tmp_path_factory.mktemp("sr1")
    corpus = d / "corpus.jsonl"
    rows = [
        {"id": str(i), "contents": f'"Doc {i}"\nPlain passage {i} about capital France Hamlet mountain.'}
        for i in range(5)
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    questions = d / "q.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"id": f"ep-{i}", "question": e["question"], "golden_answers": e["golden_answers"]})
            + "\n"
            for i, e in enumerate(FIXTURE["episodes"])
        )
    )
    return DeepSearchEnv(
        questions=str(questions), corpus=str(corpus), retriever="builtin", topk=1
    )  # one-line results


def _play(env, i, episode):
    env.reset(options={"task_index": i})
    steps = 0
    for response in episode["responses"]:
        _, reward, term, trunc, info = env.step(response)
        steps += 1
        if term or trunc:
            return steps, reward, info
    return steps, None, None


def test_reward_is_search_r1s_last_answer_of_the_whole_text_on_500_episodes(episode_env):
    assert episode_env.max_turns == FIXTURE["episodes"][0]["max_turns"]
    differ = 0
    for i, ep in enumerate(FIXTURE["episodes"]):
        steps, reward, info = _play(episode_env, i, ep)
        assert steps == len(ep["steps"]), i
        if reward is None:  # the responses ran out before the episode ended: nothing scored yet
            assert ep["steps"][-1]["action"] != "answer" and steps <= ep["max_turns"]
            continue
        # an answer spanning turns holds a results block: the reference's is a placeholder
        ours = (
            None
            if info["answer"] is None
            else INFO.sub("\n\n<information>RESULTS</information>\n\n", info["answer"])
        )
        assert ours == ep["extracted_answer"], i
        assert reward == float(ep["em"]) == info["em"], i
        executed = ep["steps"][-1]["content"] if ep["steps"][-1]["action"] == "answer" else None
        assert info["executed_answer"] == executed
        differ += executed != ep["extracted_answer"]
    assert differ > 50  # the samples do exercise the difference


def test_executed_answer_scoring_is_kept_as_an_option(tmp_path):
    ep = next(e for e in FIXTURE["episodes"] if e["steps"][-1]["action"] == "answer")
    i = FIXTURE["episodes"].index(ep)
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "x", "question": ep["question"], "golden_answers": ep["golden_answers"]})
    )
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "1", "contents": '"A"\nplain text'}) + "\n")
    env = DeepSearchEnv(
        questions=str(questions), corpus=str(corpus), retriever="builtin", answer_scoring="executed"
    )
    del i
    steps, reward, info = _play(env, 0, ep)
    assert info["answer"] == ep["steps"][-1]["content"]
    assert reward == exact_match(ep["steps"][-1]["content"], ep["golden_answers"])
