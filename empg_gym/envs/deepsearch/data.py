"""Real question sets in the formats EMPG's Deep Search benchmarks are published in.

:func:`load_questions` reads a file and recognises each row's format:

- FlashRAG (``RUC-NLPIR/FlashRAG_datasets``): ``{"id", "question", "golden_answers": [...]}`` (extra keys
  such as ``metadata`` or ``supporting_doc_ids`` are kept);
- Search-R1 / verl rows (``nq_search.py`` parquet, or their JSONL dumps): ``{"data_source", "prompt":
  [{"role", "content"}], "reward_model": {"ground_truth": {"target": [...]} | "<str>"},
  "extra_info": {...}}``.
  Golds come from ``extra_info.answer`` when present (in NQ ``ground_truth`` is the answers joined with
  ", "), else ``ground_truth.target`` / ``ground_truth``; the question from ``extra_info.question``, else the
  prompt text after its last ``Question:``;
- IRCoT (HotpotQA / 2Wiki / MuSiQue ``*_subsampled.jsonl``): ``{"question_id", "question_text",
  "answers_objects": [{"spans": [...]}], "contexts": [...]}``;
- a JSON list of ``{"question", "answer"}`` (2WikiMultihopQA's questions-and-answers file); keys are also
  matched case-insensitively (``{"Question", "Answer", ...}`` rows as WebWalkerQA's are said to be; not
  checked against a copy, none is available here).

Files: ``.jsonl`` / ``.json`` / ``.parquet`` (parquet needs ``pyarrow``). The data source (for per-source
metrics) is the row's ``data_source`` mapped to a short name, else the name of the file's folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from empg_gym._optional import require

__all__ = ["QUESTIONS_ENV_VAR", "CORPUS_ENV_VAR", "QARecord", "load_questions", "source_name"]

#: Environment variables naming the default real question file and corpus.
QUESTIONS_ENV_VAR = "EMPG_DEEPSEARCH_QUESTIONS"
CORPUS_ENV_VAR = "EMPG_DEEPSEARCH_CORPUS"

_SOURCES = {
    "nq": "nq",
    "nq_open": "nq",
    "natural_questions": "nq",
    "triviaqa": "triviaqa",
    "trivia_qa": "triviaqa",
    "popqa": "popqa",
    "hotpotqa": "hotpotqa",
    "hotpot_qa": "hotpotqa",
    "2wikimultihopqa": "2wikimultihopqa",
    "2wikimultihop_qa": "2wikimultihopqa",
    "2wiki": "2wikimultihopqa",
    "musique": "musique",
    "bamboogle": "bamboogle",
    "webwalkerqa": "webwalkerqa",
    "hotpotqa_ircot_500": "hotpotqa",
}


@dataclass(frozen=True)
class QARecord:
    """One question.

    Attributes:
        id: Question id (the file's, else ``<source>-<row>``).
        question: The question text.
        golden_answers: Accepted answers.
        data_source: Short dataset name (``hotpotqa``, ``nq``, ...).
        supporting_doc_ids: Corpus ids of the gold passages, when known.
        metadata: Other fields of the row.
    """

    id: str
    question: str
    golden_answers: tuple[str, ...]
    data_source: str
    supporting_doc_ids: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def source_name(raw: str) -> str:
    """Short dataset name of a ``data_source`` string or folder name.

    >>> source_name("hotpotqa/hotpot_qa"), source_name("google-research-datasets/nq_open")
    ('hotpotqa', 'nq')
    >>> source_name("chiayewken/bamboogle")
    'bamboogle'
    """
    s = raw.strip().lower()
    for part in reversed(s.split("/")):
        if part in _SOURCES:
            return _SOURCES[part]
    return _SOURCES.get(s.split("/")[-1], s.split("/")[-1] or "unknown")


def _as_list(x: Any) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    if isinstance(x, dict):
        return _as_list(x.get("target"))
    return [str(v) for v in x]


def _question_from_prompt(prompt: Any) -> str:
    if isinstance(prompt, list | tuple) and prompt:
        content = prompt[-1].get("content", "") if isinstance(prompt[-1], dict) else str(prompt[-1])
    else:
        content = str(prompt or "")
    if "Question:" in content:
        content = content.rsplit("Question:", 1)[1]
    return content.strip()


def parse_row(row: dict[str, Any], n: int, default_source: str) -> QARecord:
    """One row of any supported format as a :class:`QARecord`.

    Raises:
        ValueError: When the row matches no known format.
    """
    if "question" in row and "golden_answers" in row:  # FlashRAG
        meta = {
            k: v
            for k, v in row.items()
            if k not in ("id", "question", "golden_answers", "supporting_doc_ids")
        }
        src = source_name(str(row["data_source"])) if "data_source" in row else default_source
        return QARecord(
            str(row.get("id", f"{src}-{n}")),
            str(row["question"]),
            tuple(_as_list(row["golden_answers"])),
            src,
            tuple(str(i) for i in row.get("supporting_doc_ids") or ()),
            meta,
        )
    if "prompt" in row and ("reward_model" in row or "extra_info" in row):  # Search-R1 / verl
        extra = row.get("extra_info") or {}
        golds = _as_list(extra.get("answer")) or _as_list((row.get("reward_model") or {}).get("ground_truth"))
        question = str(extra.get("question") or _question_from_prompt(row["prompt"]))
        src = source_name(str(row.get("data_source") or default_source))
        index = extra.get("index", n)
        return QARecord(
            str(row.get("id", f"{src}-{index}")),
            question,
            tuple(golds),
            src,
            metadata={"split": extra.get("split")},
        )
    if "question_text" in row and "answers_objects" in row:  # IRCoT
        golds = [s for obj in row["answers_objects"] for s in obj.get("spans", [])]
        return QARecord(
            str(row.get("question_id", f"{default_source}-{n}")),
            str(row["question_text"]),
            tuple(golds),
            default_source,
        )
    if "question" in row and "answer" in row:  # 2Wiki questions-and-answers
        return QARecord(
            str(row.get("id", row.get("_id", f"{default_source}-{n}"))),
            str(row["question"]),
            tuple(_as_list(row["answer"])),
            default_source,
        )
    lower = {k.lower(): v for k, v in row.items()}
    # e.g. WebWalkerQA's Question/Answer keys
    if lower.keys() != row.keys() and "question" in lower and "answer" in lower:
        return parse_row(lower, n, default_source)
    raise ValueError(f"row {n} is in no known question format (keys: {sorted(row)[:8]})")


def _rows(p: Path) -> Iterable[dict[str, Any]]:
    if p.suffix == ".parquet":
        pq = require("pyarrow.parquet", "search", why="reading parquet question files")
        yield from pq.read_table(p).to_pylist()
        return
    with open(p, encoding="utf-8") as f:
        head = f.read(1)
        while head and head.isspace():
            head = f.read(1)
        f.seek(0)
        if head == "[":
            data = json.load(f)
            if not isinstance(data, list):
                raise ValueError(f"{p}: expected a JSON list of rows")
            yield from data
            return
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{p}:{n}: not JSON ({e.msg})") from None


def _load_questions(
    path: str | os.PathLike, data_source: str | None = None, limit: int | None = None
) -> list[QARecord]:
    """:func:`load_questions` without its translation of decoding errors into messages naming the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(
            f"question file {p} not found; pass questions=<FlashRAG/Search-R1 .jsonl/.parquet> "
            f"or set ${QUESTIONS_ENV_VAR}"
        )
    default = source_name(data_source or p.parent.name or p.stem)
    out: list[Any] = []
    for n, row in enumerate(_rows(p)):
        if limit is not None and len(out) >= limit:
            break
        if not isinstance(row, dict):
            raise ValueError(f"row {n} is a {type(row).__name__}, not a JSON object")
        rec = parse_row(row, n, default)
        if data_source:
            rec = QARecord(
                rec.id, rec.question, rec.golden_answers, default, rec.supporting_doc_ids, rec.metadata
            )
        if not rec.golden_answers:
            raise ValueError(f"{p}: question {rec.id} has no gold answer")
        out.append(rec)
    if not out:
        raise ValueError(f"{p} holds no questions")
    return out


def load_questions(
    path: str | os.PathLike, data_source: str | None = None, limit: int | None = None
) -> list[QARecord]:
    """Read a question file in any supported format.

    Args:
        path: ``.jsonl`` / ``.json`` / ``.parquet`` file.
        data_source: Override the data source of every row.
        limit: Read at most this many questions.

    Raises:
        FileNotFoundError: The file does not exist (the message says what to pass).
        ValueError: No questions, a row in no known format, or a damaged file (binary, torn JSON, a parquet
            file pyarrow cannot read); the message names the file.
    """
    p = Path(path).expanduser()
    try:
        return _load_questions(p, data_source, limit)
    except UnicodeDecodeError as e:  # binary or non-UTF-8 files: name the file, not the codec
        raise ValueError(f"{p}: not UTF-8 text (byte {e.start}); expected .jsonl/.json/.parquet questions") \
            from None
    except RecursionError:
        raise ValueError(f"{p}: JSON nested too deeply; expected .jsonl/.json/.parquet questions") from None
    except ValueError as e:  # JSON, parquet (pyarrow's ArrowInvalid) and row errors
        if str(p) in str(e):
            raise
        raise ValueError(f"{p}: {e}") from None
