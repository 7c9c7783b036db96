"""DeepSearch env on the generated world: protocol, turn limit, rewards, info, oracle."""

from __future__ import annotations

import gymnasium as gym
import pytest

import empg_gym  # noqa: F401
from empg_gym.envs.deepsearch.env import DeepSearchEnv
from empg_gym.envs.deepsearch.protocol import INVALID_MESSAGE


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return DeepSearchEnv(split="test", retriever_kwargs={"cache_dir": str(tmp_path_factory.mktemp("idx"))})


def test_search_then_answer(env):
    obs, info = env.reset(seed=0, options={"task_index": 0})
    q = env.tasks[0]
    assert obs == q.question and info["task_id"] == "test-0"
    start = q.generated.sides[0][0]
    obs, r, term, trunc, info = env.step(f"<think>look it up</think><search> {start} </search> ignored")
    assert obs.startswith("<information>Doc 1(Title: ") and obs.endswith("</information>")
    assert obs.count("Doc ") == 3 and r == 0.0 and not term and not trunc
    assert len(info["retrieved_doc_ids"]) == 3 and info["turn"] == 1 and info["searches_left"] == 3
    assert f'(Title: "{start}")' in obs
    obs, r, term, trunc, info = env.step(f"<answer> {q.golds[0].upper()} </answer>")
    assert r == 1.0 and term and info["won"] and info["score"] == 1.0
    assert info["em"] == 1.0 and info["f1"] == 1.0 and info["data_source"] == "generated"
    assert info["hops"] == q.hops and info["golden_answers"] == list(q.golds)


def test_wrong_answer_has_partial_f1(env):
    env.reset(options={"task_index": 0})
    gold = env.tasks[0].golds[0]
    _, r, term, _, info = env.step(f"<answer> {gold} and more words </answer>")
    assert term and r == 0.0 and not info["won"] and 0.0 < info["f1"] < 1.0


def test_invalid_actions_use_turns_and_truncate(env):
    env.reset(options={"task_index": 1})
    for turn in range(1, 5):
        obs, r, term, trunc, info = env.step("I think the answer is Paris.")
        assert obs == INVALID_MESSAGE and not info["action_valid"] and info["message"] == INVALID_MESSAGE
        assert info["turn"] == turn and not term and not trunc
    # the 5th step (answer-only turn) ends the episode
    obs, r, term, trunc, info = env.step("<search> anything </search>")
    assert trunc and not term and r == 0.0 and "limit" in obs and info["em"] == 0.0 and info["f1"] == 0.0
    obs, *_, info = env.step("<answer> x </answer>")
    assert not info["action_valid"] and "over" in obs


def test_last_turn_may_still_answer(env):
    env.reset(options={"task_index": 2})
    for _ in range(4):
        env.step("<search> something </search>")
    _, r, term, trunc, info = env.step(f"<answer> {env.tasks[2].golds[0]} </answer>")
    assert term and not trunc and r == 1.0


def test_max_turns_and_topk_are_configurable(tmp_path):
    e = DeepSearchEnv(max_turns=1, topk=5, retriever_kwargs={"cache_dir": str(tmp_path)})
    e.reset(options={"task_index": 0})
    obs, *_ = e.step("<search> city </search>")
    assert obs.count("Doc ") == 5
    _, _, term, trunc, _ = e.step("<search> again </search>")
    assert trunc and not term
    with pytest.raises(ValueError, match="topk"):
        DeepSearchEnv(topk=0)


def test_hops_filter_and_splits_are_disjoint(tmp_path):
    kw = {"retriever_kwargs": {"cache_dir": str(tmp_path)}}
    e = DeepSearchEnv(split="train", hops=[4], **kw)
    assert {t.hops for t in e.tasks} == {4} and len(e.tasks) > 100
    test_q = {t.question for t in DeepSearchEnv(split="test", **kw).tasks}
    assert not test_q & {t.question for t in DeepSearchEnv(split="train", **kw).tasks}
    with pytest.raises(ValueError, match="hops"):
        DeepSearchEnv(hops=[5], **kw)


def test_oracle_solves_the_test_split(env):
    wins = 0
    for i in range(len(env.tasks)):
        env.reset(options={"task_index": i})
        done = False
        while not done:
            _, r, term, trunc, info = env.step(env.expert_action())
            done = term or trunc
        wins += r
        assert info["supporting_recall"] == 1.0 or r == 0.0
    assert wins / len(env.tasks) >= 0.95


def test_gym_make_and_suggested_actions():
    e = gym.make("empg/DeepSearch-v0")
    _, info = e.reset(seed=1)
    assert info["admissible_actions"][0].startswith("<search> ")
    _, _, _, _, info = e.step(info["admissible_actions"][0])
    assert any(a.startswith("<answer> ") for a in info["admissible_actions"])
