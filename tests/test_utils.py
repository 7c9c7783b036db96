"""The small shared helpers: cache folder, progress bar."""

from pathlib import Path

from empg_gym._cache import cache_root
from empg_gym._progress import ProgressBar


def test_cache_root_precedence(monkeypatch, tmp_path):
    for var in ("EMPG_CACHE", "EMPG_GYM_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "empg_gym"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "empg_gym"
    monkeypatch.setenv("EMPG_GYM_CACHE", str(tmp_path / "old"))
    assert cache_root() == tmp_path / "old"
    monkeypatch.setenv("EMPG_CACHE", str(tmp_path / "new"))
    assert cache_root() == tmp_path / "new"
    assert cache_root(tmp_path / "given") == tmp_path / "given"
    # every cache user goes through it
    from empg_gym.envs.alfworld.tw import cache_root as alfworld_root
    from empg_gym.policy.smollm import cache_dir
    from empg_gym.retrieval import cache_root as retrieval_root

    assert cache_dir() == retrieval_root() == tmp_path / "new"
    assert Path(alfworld_root()) == tmp_path / "new" / "alfworld"


def test_disabled_progress_bar_is_a_no_op():
    with ProgressBar(3, "x", enabled=False) as bar:
        bar.advance(status="s")
        bar.status("t")
    bar.close()


def test_jsonl_survives_a_torn_last_line(tmp_path):
    from empg_gym._jsonl import JsonlAppender, append_jsonl, read_jsonl

    p = tmp_path / "sub" / "x.jsonl"
    assert read_jsonl(p) == []
    append_jsonl(p, {"a": 1})
    with p.open("a") as f:
        f.write('{"a": 2, "b"')  # a writer killed mid-line
    assert read_jsonl(p) == [{"a": 1}]
    with JsonlAppender(p, sort_keys=True) as w:
        w.write({"b": 1, "a": 3})
    assert read_jsonl(p) == [{"a": 1}, {"a": 3, "b": 1}]
    assert p.read_text().splitlines()[-1] == '{"a": 3, "b": 1}'
