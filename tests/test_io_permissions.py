"""Files written atomically get the permissions an ordinary write would give (they were all 0600)."""

from __future__ import annotations

import os
import stat

import pytest

from empg_gym._io import write_json_atomic, write_text_atomic


@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield lambda m: os.umask(m)
    finally:
        os.umask(old)


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_file_respects_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    assert mode(write_text_atomic(tmp_path / "a.txt", "x")) == expected
    assert mode(write_json_atomic(tmp_path / "sub" / "b.json", {"k": 1})) == expected


def test_existing_file_keeps_its_mode(tmp_path, umask):
    p = tmp_path / "LEADERBOARD.md"
    p.write_text("old")
    os.chmod(p, 0o640)
    write_text_atomic(p, "new")
    assert p.read_text() == "new" and mode(p) == 0o640
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]  # no temp file left behind
