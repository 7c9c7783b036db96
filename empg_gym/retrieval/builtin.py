"""BM25 in plain numpy: the retriever that needs no extra, so DeepSearch runs on a bare install.

Same tokens (:func:`empg_gym.retrieval.bm25.tokenize`) and the same scoring as the ``bm25s`` backend
(Lucene's BM25, k1=0.9, b=0.4, exact document lengths; only passages sharing a term with the query are
returned, ties broken by corpus order), so the two rank alike; bm25s is faster on large corpora (sparse
matrices, an on-disk index cache), this one builds in memory on every start. ``make_retriever("auto")``
picks bm25s when it is installed and this backend otherwise; the choice is recorded in the env's
``info["retriever"]`` and :meth:`data_provenance`.

The index is a term -> (passage ids, BM25 weights) CSR structure built with numpy: about 12 bytes per
posting, so a 10,000-passage corpus builds in well under a second; for a million passages use bm25s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from empg_gym.retrieval import Corpus, Hit
from empg_gym.retrieval.bm25 import K1, B, tokenize, top_k


class BuiltinBM25Retriever:
    """BM25 retrieval over ``corpus`` in numpy (see the module docstring).

    Args:
        corpus: The passages.
        cache_dir: Accepted for the same interface as bm25s; the index is kept in memory only.
        k1: BM25 k1.
        b: BM25 b.
    """

    name = "builtin"
    loaded_from_cache = False

    def __init__(self, corpus: Corpus, *, cache_dir: object = None, k1: float = K1, b: float = B) -> None:
        self.corpus = corpus
        self.k1, self.b = k1, b
        vocab: dict[str, int] = {}
        term_ids: list[int] = []
        doc_ids: list[int] = []
        lengths = np.zeros(len(corpus), dtype=np.float64)
        for d, text in enumerate(corpus.contents):
            toks = tokenize(text)
            lengths[d] = len(toks)
            for t in toks:
                term_ids.append(vocab.setdefault(t, len(vocab)))
            doc_ids.extend([d] * len(toks))
        self._vocab = vocab
        n_docs = len(corpus)
        if not term_ids:
            self._indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
            self._docs = np.zeros(0, dtype=np.int32)
            self._weights = np.zeros(0, dtype=np.float32)
            return
        # unique (term, doc) pairs with their counts, sorted by term then doc
        key = np.asarray(term_ids, dtype=np.int64) * max(n_docs, 1) + np.asarray(doc_ids, dtype=np.int64)
        pairs, tf = np.unique(key, return_counts=True)
        terms = pairs // max(n_docs, 1)
        docs = pairs % max(n_docs, 1)
        df = np.bincount(terms, minlength=len(vocab))
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        avgdl = float(lengths.mean()) if lengths.mean() > 0 else 1.0
        norm = k1 * ((1 - b) + b * lengths / avgdl)
        tf = tf.astype(np.float64)
        self._weights = (idf[terms] * tf / (tf + norm[docs])).astype(np.float32)
        self._docs = docs.astype(np.int32)
        self._indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (0 where no term matches)."""
        s = np.zeros(len(self.corpus), dtype=np.float32)
        # each distinct query term once, in vocabulary order as bm25s (float32 sums: a fixed order keeps
        # near-ties stable across processes)
        for i in sorted({self._vocab[t] for t in tokenize(query) if t in self._vocab}):
            lo, hi = self._indptr[i], self._indptr[i + 1]
            s[self._docs[lo:hi]] += self._weights[lo:hi]
        return s

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` matching passages per query, best first, ties by corpus order."""
        out = []
        for q in queries:
            s = self.scores(q)
            out.append([Hit(self.corpus.ids[i], self.corpus.contents[i], float(s[i])) for i in top_k(s, k)])
        return out
