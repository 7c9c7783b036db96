"""DeepSearch: a bare install works (numpy BM25), data provenance, and clear errors for bad arguments."""

from __future__ import annotations

import json
import sys

import gymnasium as gym
import pytest

import empg_gym  # noqa: F401
from empg_gym.envs.deepsearch.env import DeepSearchEnv
from empg_gym.envs.provenance import file_digest


def test_gym_make_without_bm25s_uses_builtin_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "bm25s", None)
    env = gym.make("empg/DeepSearch-v0", retriever_kwargs={"cache_dir": str(tmp_path)})
    obs, info = env.reset(seed=0, options={"task_index": 0})
    assert info["retriever"] == "builtin"
    obs, *_, info = env.step(f"<search> {obs} </search>")
    assert obs.startswith("<information>Doc 1(Title: ") and info["retriever"] == "builtin"
    prov = env.unwrapped.data_provenance()
    assert prov["kind"] == "generated" and prov["params"]["retriever"] == "builtin"


def test_generated_world_provenance_is_stable_and_names_parameters(tmp_path):
    kw = {"retriever": "builtin"}
    a = DeepSearchEnv(split="test", **kw).data_provenance()
    assert a == DeepSearchEnv(split="test", **kw).data_provenance()
    assert a["kind"] == "generated" and a["source"] == "deepsearch-world" and a["files"] == {}
    assert a["params"] == {
        "max_turns": 4,
        "topk": 3,
        "answer_scoring": "search-r1",
        "split": "test",
        "world_seed": 0,
        "world_size": 400,
        "hops": None,
        "retriever": "builtin",
        "analyzer": a["params"]["analyzer"],
    }
    assert DeepSearchEnv(split="valid", **kw).data_provenance() != a
    assert DeepSearchEnv(split="test", topk=5, **kw).data_provenance() != a
    json.dumps(a)


def _files(tmp_path, answer="Paris"):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "1", "contents": '"Paris"\nParis is the capital of France.'}) + "\n")
    q = tmp_path / "q.jsonl"
    q.write_text(
        json.dumps({"id": "q1", "question": "capital of France?", "golden_answers": [answer]}) + "\n"
    )
    return q, corpus


def test_real_data_provenance_hashes_the_files(tmp_path, monkeypatch):
    q, corpus = _files(tmp_path)
    prov = DeepSearchEnv(questions=str(q), corpus=str(corpus), retriever="builtin").data_provenance()
    assert prov["kind"] == "real" and prov["source"] == tmp_path.name
    assert prov["files"] == {"questions/q.jsonl": file_digest(q), "corpus/corpus.jsonl": file_digest(corpus)}
    import hashlib

    assert prov["files"]["corpus/corpus.jsonl"] == "sha256:" + hashlib.sha256(corpus.read_bytes()).hexdigest()
    # the same data chosen through the environment variables gives the same provenance
    monkeypatch.setenv("EMPG_DEEPSEARCH_QUESTIONS", str(q))
    monkeypatch.setenv("EMPG_DEEPSEARCH_CORPUS", str(corpus))
    assert DeepSearchEnv(retriever="builtin").data_provenance() == prov
    # other gold answers: another question file, another provenance
    (tmp_path / "other").mkdir()
    q2, _ = _files(tmp_path / "other", answer="Lyon")
    monkeypatch.delenv("EMPG_DEEPSEARCH_QUESTIONS")
    other = DeepSearchEnv(questions=str(q2), corpus=str(corpus), retriever="builtin").data_provenance()
    assert other["files"]["questions/q.jsonl"] != prov["files"]["questions/q.jsonl"]


def test_corpus_without_questions_is_an_error(tmp_path, monkeypatch):
    _, corpus = _files(tmp_path)
    monkeypatch.delenv("EMPG_DEEPSEARCH_QUESTIONS", raising=False)
    with pytest.raises(ValueError, match=r"corpus=.*no questions"):
        DeepSearchEnv(corpus=str(corpus))
    monkeypatch.setenv("EMPG_DEEPSEARCH_CORPUS", str(corpus))
    with pytest.raises(ValueError, match="EMPG_DEEPSEARCH_CORPUS"):
        DeepSearchEnv()


def test_missing_files_are_named(tmp_path):
    q, corpus = _files(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        DeepSearchEnv(questions=str(tmp_path / "nope.jsonl"), corpus=str(corpus))
    with pytest.raises(FileNotFoundError, match="missing-corpus"):
        DeepSearchEnv(questions=str(q), corpus=str(tmp_path / "missing-corpus.jsonl"))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"topk": 0}, "topk"),
        ({"topk": 10**12}, "topk"),
        ({"topk": 2.5}, "topk"),
        ({"max_turns": -1}, "max_turns"),
        ({"max_turns": 10**9}, "max_turns"),
        ({"world_size": 10**12}, "world_size"),
        ({"world_size": 5}, "world_size"),
        ({"max_obs_length": 10**12}, "max_obs_length"),
        ({"limit": 0}, "limit"),
        ({"retriever": "bm26"}, "retriever"),
        ({"split": "dev"}, "split"),
        ({"hops": [5]}, "hops"),
    ],
)
def test_bad_kwargs_are_clear_errors(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DeepSearchEnv(**kwargs)
