"""BM25 over a corpus with bm25s, index built once and cached on disk.

Scoring is Lucene's BM25 (bm25s ``method="lucene"``) with pyserini's defaults k1=0.9, b=0.4. Tokens come
from :func:`tokenize`: lower case, runs of letters and digits, Lucene's 33 English stop words dropped, Porter
stems (PyStemmer's when installed, else Lucene's Porter in pure Python); an approximation of Lucene's
``EnglishAnalyzer``, which pyserini uses.
As in Lucene only passages sharing a term with the query are returned, ties broken by corpus order.

The index lives in ``<cache>/retrieval-bm25s-<corpus fingerprint>-<analyzer>/`` (see
:func:`empg_gym.retrieval.cache_root`); it is written to a temporary folder and renamed into place, so a
crash never leaves a half-written index behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence

import numpy as np

from empg_gym._optional import is_available, require
from empg_gym.retrieval import Corpus, Hit, cache_root

#: Lucene's ``EnglishAnalyzer`` stop words.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)
_TOKEN = re.compile(r"[a-z0-9]+")
K1, B = 0.9, 0.4
ANALYZER_VERSION = "1"


class _Stemmer:
    fn = None
    kind = "nostem"
    loaded = False

    @classmethod
    def get(cls):
        if not cls.loaded:
            cls.loaded = True
            if is_available("Stemmer"):
                import Stemmer

                cls.fn = Stemmer.Stemmer("porter").stemWords
                cls.kind = "porter"
            else:  # no PyStemmer (bare install): Lucene's Porter stemmer in pure Python
                from empg_gym.envs.webshop.porter import stem

                cls.fn = lambda toks: [stem(t) for t in toks]
                cls.kind = "lucene-porter"
        return cls.fn


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text`` (see the module docstring).

    >>> [t for t in tokenize("The Cities of Valdoria!") if t != "citi"][:1]
    ['valdoria']
    """
    toks = [t for t in _TOKEN.findall(text.lower()) if t not in STOP_WORDS]
    stem = _Stemmer.get()
    return stem(toks) if stem is not None and toks else toks


def analyzer_name() -> str:
    """A short name of the analyzer in use (part of the cache key)."""
    _Stemmer.get()
    return f"v{ANALYZER_VERSION}-{_Stemmer.kind}"


class BM25sRetriever:
    """BM25 retrieval with bm25s.

    Args:
        corpus: The passages.
        cache_dir: Where indexes are cached (default ``$EMPG_CACHE`` or ``~/.cache/empg_gym``); ``False``
            keeps the index in memory only.
        k1: BM25 k1.
        b: BM25 b.
    """

    name = "bm25s"

    def __init__(
        self,
        corpus: Corpus,
        *,
        cache_dir: str | os.PathLike | None | bool = None,
        k1: float = K1,
        b: float = B,
    ) -> None:
        bm25s = require("bm25s", "search", why="the bm25s retriever")
        self.corpus = corpus
        self.k1, self.b = k1, b
        key = f"retrieval-bm25s-{corpus.fingerprint()}-{analyzer_name()}-k{k1}-b{b}"
        folder = (
            None if cache_dir is False else cache_root(cache_dir if cache_dir is not True else None) / key
        )
        self.index_dir = folder
        self.loaded_from_cache = False
        if folder is not None and (folder / "params.index.json").is_file():
            self._bm25 = bm25s.BM25.load(str(folder), load_vocab=True)
            self.loaded_from_cache = True
        else:
            self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
            self._bm25.index([tokenize(c) for c in corpus.contents], show_progress=len(corpus) > 50_000)
            if folder is not None:
                folder.parent.mkdir(parents=True, exist_ok=True)
                tmp = tempfile.mkdtemp(prefix=key + ".", dir=folder.parent)
                self._bm25.save(tmp, show_progress=False)
                try:
                    os.replace(tmp, folder)
                except OSError:  # another process won the race: use theirs
                    shutil.rmtree(tmp, ignore_errors=True)
        self._vocab = self._bm25.vocab_dict

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (0 where no term matches)."""
        ids = sorted({self._vocab[t] for t in tokenize(query) if t in self._vocab and t != ""})
        if not ids:
            return np.zeros(len(self.corpus), dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` matching passages per query, best first, ties by corpus order."""
        out = []
        for q in queries:
            s = self.scores(q)
            out.append([Hit(self.corpus.ids[i], self.corpus.contents[i], float(s[i])) for i in top_k(s, k)])
        return out


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` highest positive scores, best first, ties by index.

    >>> top_k(np.array([0.0, 2.0, 1.0, 2.0]), 2)
    [1, 3]
    """
    if k <= 0:
        return []
    pos = np.flatnonzero(scores > 0)
    if len(pos) > k:
        kth = np.partition(scores[pos], len(pos) - k)[len(pos) - k]
        pos = pos[scores[pos] >= kth]
    order = np.lexsort((pos, -scores[pos]))
    return [int(i) for i in pos[order][:k]]
