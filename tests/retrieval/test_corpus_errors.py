"""Damaged corpus files: each is a ValueError naming the file (and line), never a bare decode traceback."""

from __future__ import annotations

import gzip
import json

import pytest

from empg_gym.retrieval import load_corpus

GOOD = json.dumps({"id": "0", "contents": '"T"\ntext'}) + "\n"


@pytest.mark.parametrize(
    ("name", "blob", "needle"),
    [
        ("binary.jsonl", bytes(range(256)) * 8, ":1: not JSON"),  # line 1 is bytes 0..10
        ("high.jsonl", bytes(range(128, 256)) * 8, ":1: not UTF-8 text"),
        ("latin1.jsonl", (GOOD + '{"id": "1", "contents": "caf\xe9"}\n').encode("latin-1"), ":2: not UTF-8"),
        ("nul.jsonl", b"\x00" * 64 + b"\n", ":1: not JSON"),
        ("torn.jsonl", (GOOD + GOOD[:20]).encode(), ":2: not JSON"),
        ("list.jsonl", (GOOD + "[1, 2]\n").encode(), ":2: a list, not a JSON object"),
        ("number.jsonl", b"3\n", ":1: a int, not a JSON object"),
        ("deep.jsonl", b"[" * 100000 + b"\n", ":1: not JSON (nested too deeply)"),
        ("nokeys.jsonl", b'{"id": "0", "body": "x"}\n', "has neither 'contents' nor 'text'"),
        ("fake.jsonl.gz", b"not gzip at all", "not a readable gzip file"),
        ("truncated.jsonl.gz", gzip.compress((GOOD * 50).encode())[:-30], "not a readable gzip file"),
        ("binary_in.jsonl.gz", gzip.compress(b"\xff\xfe" * 100), ":1: not UTF-8"),
    ],
)
def test_damaged_corpus_is_a_clear_error(tmp_path, name, blob, needle):
    p = tmp_path / name
    p.write_bytes(blob)
    with pytest.raises(ValueError) as e:
        load_corpus(p)
    assert str(p) in str(e.value) and needle in str(e.value), str(e.value)


def test_good_corpus_still_loads_plain_and_gzipped(tmp_path):
    (tmp_path / "c.jsonl").write_text(GOOD + "\n" + GOOD.replace('"0"', '"1"'))
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress((tmp_path / "c.jsonl").read_bytes()))
    for f in ("c.jsonl", "c.jsonl.gz"):
        c = load_corpus(tmp_path / f)
        assert c.ids == ("0", "1") and c.contents == ('"T"\ntext', '"T"\ntext')
