"""Damaged DeepSearch data files (questions and corpus): clear errors naming the file, no tracebacks."""

from __future__ import annotations

import gzip
import json

import pytest

from empg_gym.envs.deepsearch.data import load_questions

Q = json.dumps({"id": "q0", "question": "Who?", "golden_answers": ["X"]}) + "\n"


@pytest.mark.parametrize(
    ("name", "blob", "needle"),
    [
        ("binary.jsonl", bytes(range(128, 256)) * 4, "not UTF-8 text"),
        ("nul.jsonl", b"\x00\x01\x02\n", ":1: not JSON"),
        ("torn.jsonl", (Q + Q[:15]).encode(), ":2: not JSON"),
        ("scalar.jsonl", b"42\n", "row 0 is a int, not a JSON object"),
        ("list.json", b"[" + Q.strip().encode() + b", 7]", "row 1 is a int"),
        ("broken.json", b'[{"question": "a", ', "Expecting"),
        ("deep.json", b"[" * 100000, "nested too deeply"),
        ("keys.jsonl", b'{"foo": 1}\n', "no known question format"),
        ("garbled.parquet", b"PAR1" + bytes(range(256)) * 4, ""),
    ],
)
def test_damaged_question_files_name_the_file(tmp_path, name, blob, needle):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    p = tmp_path / name
    p.write_bytes(blob)
    with pytest.raises(ValueError) as e:
        load_questions(p)
    assert str(p) in str(e.value) and needle in str(e.value), str(e.value)


def test_env_with_a_damaged_corpus_names_it(tmp_path):
    pytest.importorskip("bm25s")
    from empg_gym.envs.deepsearch.env import DeepSearchEnv

    (tmp_path / "q.jsonl").write_text(Q)
    bad = tmp_path / "corpus.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"id": "0", "contents": "x"}\n' * 20)[:-12])
    with pytest.raises(ValueError) as e:
        env = DeepSearchEnv(corpus=str(bad), questions=str(tmp_path / "q.jsonl"))
        env.reset(options={"task_index": 0})
    assert str(bad) in str(e.value) and "gzip" in str(e.value)
