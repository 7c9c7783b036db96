"""The numpy BM25 retriever (no extra): Lucene BM25 by hand, and the same rankings as bm25s."""

from __future__ import annotations

import math
import sys

import pytest

from empg_gym.retrieval import Corpus, make_retriever
from empg_gym.retrieval.bm25 import tokenize
from empg_gym.retrieval.builtin import BuiltinBM25Retriever

ROWS = [
    {"id": "a", "contents": '"Zorvath"\nZorvath is a city on the river Quell.'},
    {"id": "b", "contents": '"Mira Tolk"\nMira Tolk was born in Zorvath.'},
    {"id": "c", "contents": '"Quell"\nThe Quell is a long river.'},
    {"id": "d", "contents": '"Elsewhere"\nNothing in common here at all.'},
]


def test_lucene_bm25_by_hand_and_match_only():
    corpus = Corpus.from_rows(ROWS)
    hits = BuiltinBM25Retriever(corpus).search(["zorvath zorvath"], 10)[0]
    assert [h.id for h in hits] == ["a", "b"]
    toks = [tokenize(c) for c in corpus.contents]
    avgdl = sum(map(len, toks)) / len(toks)
    idf = math.log(1 + (4 - 2 + 0.5) / (2 + 0.5))
    for hit, doc in zip(hits, (0, 1), strict=True):
        tf, dl = toks[doc].count("zorvath"), len(toks[doc])
        assert hit.score == pytest.approx(idf * tf / (tf + 0.9 * (1 - 0.4 + 0.4 * dl / avgdl)), rel=1e-6)


def test_k_no_match_and_empty_corpus():
    r = make_retriever("builtin", Corpus.from_rows(ROWS))
    assert r.name == "builtin"
    out = r.search(["river quell", "unknownword", "", "the of a"], 2)
    assert [h.id for h in out[0]] == ["c", "a"]
    assert out[1:] == [[], [], []]
    assert make_retriever("builtin", Corpus((), ())).search(["x"], 3) == [[]]


def test_same_rankings_as_bm25s_on_the_generated_world(tmp_path):
    pytest.importorskip("bm25s")
    from empg_gym.envs.deepsearch.env import get_world

    world, splits = get_world(0, 400)
    corpus = Corpus.from_rows(world.passages)
    ours = make_retriever("builtin", corpus)
    ref = make_retriever("bm25s", corpus, cache_dir=tmp_path)
    queries = [q.question for q in splits["test"][:200]]
    for mine, theirs in zip(ours.search(queries, 3), ref.search(queries, 3), strict=True):
        if [h.id for h in mine] != [h.id for h in theirs]:  # only a near-tie may be ordered differently
            assert sorted(h.id for h in mine) == sorted(h.id for h in theirs)
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], rel=1e-5)


def test_auto_falls_back_to_builtin_without_bm25s(monkeypatch):
    monkeypatch.setitem(sys.modules, "bm25s", None)  # import bm25s now fails, find_spec says absent
    assert make_retriever("auto", Corpus.from_rows(ROWS)).name == "builtin"
