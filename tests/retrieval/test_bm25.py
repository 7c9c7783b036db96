"""The bm25s retriever: Lucene BM25 scores, ordering, Lucene's match-only results, the on-disk cache."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("bm25s")

from empg_gym.retrieval import Corpus, Hit, load_corpus, make_retriever  # noqa: E402
from empg_gym.retrieval.bm25 import BM25sRetriever, tokenize, top_k  # noqa: E402

ROWS = [
    {"id": "a", "contents": '"Zorvath"\nZorvath is a city on the river Quell.'},
    {"id": "b", "contents": '"Mira Tolk"\nMira Tolk was born in Zorvath.'},
    {"id": "c", "contents": '"Quell"\nThe Quell is a long river.'},
    {"id": "d", "contents": '"Elsewhere"\nNothing in common here at all.'},
]


def test_lucene_bm25_score_by_hand(tmp_path):
    corpus = Corpus.from_rows(ROWS)
    r = BM25sRetriever(corpus, cache_dir=tmp_path)
    hits = r.search(["zorvath"], 10)[0]
    assert [h.id for h in hits] == ["a", "b"]  # only matching passages (Lucene), best first
    toks = [tokenize(c) for c in corpus.contents]
    avgdl = sum(map(len, toks)) / len(toks)
    n, df = 4, 2
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))

    def bm25(doc):
        tf, dl = toks[doc].count("zorvath"), len(toks[doc])
        # Lucene >= 8 drops the constant (k1 + 1) factor from the numerator
        return idf * tf / (tf + 0.9 * (1 - 0.4 + 0.4 * dl / avgdl))

    assert hits[0].score == pytest.approx(bm25(0), rel=1e-5)
    assert hits[1].score == pytest.approx(bm25(1), rel=1e-5)


def test_batch_k_and_no_match(tmp_path):
    r = make_retriever("bm25s", Corpus.from_rows(ROWS), cache_dir=tmp_path)
    out = r.search(["river quell", "unknownword", "", "the of a"], 2)
    assert [h.id for h in out[0]] == ["c", "a"]
    assert out[1] == [] and out[2] == [] and out[3] == []  # stop words only: nothing matches
    assert isinstance(out[0][0], Hit) and out[0][0].title == '"Quell"'
    assert r.search([], 3) == []


def test_index_is_cached_on_disk(tmp_path):
    corpus = Corpus.from_rows(ROWS)
    first = BM25sRetriever(corpus, cache_dir=tmp_path)
    assert not first.loaded_from_cache and first.index_dir.is_dir()
    second = BM25sRetriever(corpus, cache_dir=tmp_path)
    assert second.loaded_from_cache
    assert second.search(["zorvath river"], 3) == first.search(["zorvath river"], 3)
    changed = Corpus.from_rows([*ROWS, {"id": "e", "contents": '"New"\nnew passage'}])
    assert not BM25sRetriever(changed, cache_dir=tmp_path).loaded_from_cache  # new corpus, new key


def test_top_k_ties_by_index():
    import numpy as np

    assert top_k(np.array([1.0, 3.0, 3.0, 0.0, 2.0]), 3) == [1, 2, 4]
    assert top_k(np.array([0.0, 0.0]), 5) == []
    assert top_k(np.array([1.0]), 0) == []


def test_corpus_files(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    c = load_corpus(p)
    assert c.ids == ("a", "b", "c", "d") and c.contents[0].startswith('"Zorvath"\n')
    t = Corpus.from_rows([{"id": 7, "title": "T", "text": "body"}])
    assert t.ids == ("7",) and t.contents == ('"T"\nbody',)
    with pytest.raises(FileNotFoundError, match="corpus"):
        load_corpus(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"id": 1, "contents": "x"}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_corpus(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="unknown retriever"):
        make_retriever("nope", c)
