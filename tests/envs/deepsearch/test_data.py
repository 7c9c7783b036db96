"""Real question formats (FlashRAG, Search-R1 rows, IRCoT, 2Wiki list, parquet) and the env on real data.

The public copies live in /work/shared/data/searchqa (see its SOURCE.md), or $EMPG_SEARCHQA_DATA; tests that
need them skip when they are absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from empg_gym.envs.deepsearch.data import load_questions, parse_row, source_name

DATA = Path(os.environ.get("EMPG_SEARCHQA_DATA", "/work/shared/data/searchqa"))


def need(rel: str) -> Path:
    p = DATA / rel
    if not p.exists():
        pytest.skip(f"{p} not present (public QA copies; see docs/deepsearch.md, or set EMPG_SEARCHQA_DATA)")
    return p


def test_row_formats_by_hand():
    fr = parse_row(
        {"id": "test_0", "question": "q?", "golden_answers": ["a", "b"], "metadata": {"x": 1}}, 0, "nq"
    )
    assert (fr.id, fr.question, fr.golden_answers, fr.data_source, fr.metadata) == (
        "test_0",
        "q?",
        ("a", "b"),
        "nq",
        {"metadata": {"x": 1}},
    )
    sr = parse_row(
        {
            "data_source": "nq",
            "prompt": [{"role": "user", "content": "Answer ... Question: who is x?\n"}],
            "reward_model": {"style": "rule", "ground_truth": {"target": ["X", "Ex"]}},
            "extra_info": {"split": "test", "index": 7},
        },
        3,
        "unknown",
    )
    assert (sr.id, sr.question, sr.golden_answers, sr.data_source) == ("nq-7", "who is x?", ("X", "Ex"), "nq")
    nq = parse_row(
        {
            "data_source": "google-research-datasets/nq_open",
            "prompt": [{"content": "q", "role": "user"}],
            "reward_model": {"ground_truth": "a, b"},
            "extra_info": {"answer": ["a", "b"], "index": 0, "question": "q"},
        },
        0,
        "x",
    )
    assert nq.golden_answers == ("a", "b")  # extra_info.answer, not the joined ground_truth
    ir = parse_row(
        {"question_id": "5a8", "question_text": "q", "answers_objects": [{"spans": ["s1"]}]}, 0, "hotpotqa"
    )
    assert (ir.id, ir.golden_answers) == ("5a8", ("s1",))
    tw = parse_row({"question": "q", "answer": "a"}, 4, "2wikimultihopqa")
    assert (tw.id, tw.golden_answers) == ("2wikimultihopqa-4", ("a",))
    ww = parse_row({"Question": "q", "Answer": "a", "Root_Url": "https://x"}, 2, "webwalkerqa")
    assert (ww.question, ww.golden_answers, ww.data_source) == ("q", ("a",), "webwalkerqa")
    with pytest.raises(ValueError, match="no known question format"):
        parse_row({"foo": 1}, 0, "x")
    assert (
        source_name("bdsaglam/musique") == "musique" and source_name("2wikimultihop_qa") == "2wikimultihopqa"
    )


def test_files_and_errors(tmp_path):
    p = tmp_path / "popqa" / "test.jsonl"
    p.parent.mkdir()
    p.write_text(json.dumps({"id": "1", "question": "q", "golden_answers": ["a"]}) + "\n")
    assert load_questions(p)[0].data_source == "popqa"  # from the folder name
    assert load_questions(p, data_source="mine")[0].data_source == "mine"
    with pytest.raises(FileNotFoundError, match="EMPG_DEEPSEARCH_QUESTIONS"):
        load_questions(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no questions"):
        load_questions(tmp_path / "empty.jsonl")


@pytest.mark.slow  # importing pyarrow takes seconds
def test_parquet_rows(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [
        {
            "data_source": "hotpotqa",
            "prompt": [{"role": "user", "content": "Question: Who?"}],
            "ability": "fact-reasoning",
            "reward_model": {"style": "rule", "ground_truth": {"target": ["Ann"]}},
            "extra_info": {"split": "test", "index": 0},
        }
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "test.parquet")
    (r,) = load_questions(tmp_path / "test.parquet")
    assert (r.question, r.golden_answers, r.data_source) == ("Who?", ("Ann",), "hotpotqa")


@pytest.mark.parametrize(
    ("rel", "n", "source", "first_gold"),
    [
        ("hotpotqa_ircot_500/questions.jsonl", 500, "hotpotqa", "Chief of Protocol"),
        ("hotpotqa_ircot_500/dev_subsampled.jsonl", 500, "hotpotqa", "Chief of Protocol"),
        ("flashrag_subsample/bamboogle/test.jsonl", 125, "bamboogle", None),
        ("flashrag_subsample/nq/test.jsonl", 1000, "nq", None),
        ("flashrag_subsample/popqa/test.jsonl", 1000, "popqa", None),
        ("flashrag_subsample/triviaqa/test.jsonl", 1000, "triviaqa", None),
        ("searchr1_eval/nq/test.jsonl", 3610, "nq", "14 December 1972 UTC"),
        ("searchr1_eval/hotpotqa/dev.jsonl", 7405, "hotpotqa", "yes"),
        ("searchr1_eval/musique/dev.jsonl", 2417, "musique", "Miquette Giraudy"),
        ("searchr1_eval/bamboogle/test.jsonl", 125, "bamboogle", "james madison"),
        ("searchr1_eval/2wikimultihopqa/dev_questions_and_answers.json", 12576, "2wikimultihopqa", None),
    ],
)
def test_shared_files_load(rel, n, source, first_gold):
    recs = load_questions(need(rel))
    assert len(recs) == n and {r.data_source for r in recs} == {source}
    assert all(r.question and r.golden_answers for r in recs)
    if first_gold is not None:
        assert recs[0].golden_answers[0] == first_gold or first_gold in recs[1].golden_answers


def _hotpot_env(tmp_path, corpus):
    pytest.importorskip("bm25s")
    from empg_gym.envs.deepsearch.env import DeepSearchEnv

    return DeepSearchEnv(
        questions=need("hotpotqa_ircot_500/questions.jsonl"),
        corpus=corpus,
        retriever_kwargs={"cache_dir": str(tmp_path)},
    )


def _play_first_question(env):
    obs, info = env.reset(options={"task_id": "5a8c7595554299585d9e36b6"})
    assert obs.startswith("What government position was held by the woman who portrayed Corliss Archer")
    _, _, _, _, info = env.step(f"<search> {obs} </search>")
    assert "1" in info["retrieved_doc_ids"] or "6" in info["retrieved_doc_ids"]  # a gold passage
    _, r, term, _, info = env.step("<answer> chief of protocol </answer>")
    assert term and r == 1.0 and info["data_source"] == "hotpotqa" and info["f1"] == 1.0
    assert info["supporting_recall"] in (0.5, 1.0)
    with pytest.raises(NotImplementedError):
        env.expert_action()


def test_env_on_hotpotqa_ircot_subset(tmp_path):
    """The real questions with the first 300 corpus passages (holding question 0's gold passages 1, 6)."""
    lines = need("hotpotqa_ircot_500/corpus.jsonl").read_text(encoding="utf-8").splitlines()[:300]
    sub = tmp_path / "corpus300.jsonl"
    sub.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _play_first_question(_hotpot_env(tmp_path, sub))


@pytest.mark.slow
def test_env_on_hotpotqa_ircot_full_corpus(tmp_path):
    _play_first_question(_hotpot_env(tmp_path, need("hotpotqa_ircot_500/corpus.jsonl")))


def test_real_questions_need_a_corpus(monkeypatch):
    from empg_gym.envs.deepsearch.env import DeepSearchEnv

    monkeypatch.delenv("EMPG_DEEPSEARCH_CORPUS", raising=False)
    q = need("flashrag_subsample/bamboogle/test.jsonl")
    with pytest.raises(ValueError, match="corpus"):
        DeepSearchEnv(questions=q)
