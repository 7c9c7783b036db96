"""Leaderboard rendering, the up-to-date check, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from empg_gym.eval.leaderboard import build, default_root, load_rows, main, render_html, render_markdown
from empg_gym.eval.schema import EntryError

from .helpers import guess_entry, reported_entry


def write(root: Path, name: str, entry) -> Path:
    p = root / "results" / entry["env"]["id"] / f"{name}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(entry))
    return p


@pytest.fixture
def board(tmp_path):
    write(tmp_path, "weak", guess_entry("weak", [True] * 4 + [False] * 12))
    write(tmp_path, "strong", guess_entry("strong", [True] * 12 + [False] * 4))
    write(tmp_path, "paper", reported_entry(0.9))
    return tmp_path


def test_rows_sorted_best_first_reported_last(board):
    rows = load_rows(board)["empg/GuessNumber-v0"]
    assert [r.label for r in rows] == ["strong", "weak", "Paper method"]


def test_markdown_table(board):
    md = render_markdown(load_rows(board))
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| 1 | strong | 75.0 [")
    assert lines[2].startswith("| 2 | weak | 25.0 [")
    assert lines[3].startswith("| – | Paper method *(reported)* | 90.0 |")


def test_html_has_every_entry_and_bars(board):
    page = render_html(load_rows(board))
    for name in ("strong", "weak", "Paper method (reported)"):
        assert f">{name}<" in page
    assert page.count('class="bar"') == 2 * 2 + 1  # success + score per measured row, success for reported
    assert 'class="reported"' in page and "<script>" in page


def test_build_and_check(board):
    assert {p.name for p in build(board, check=True)} == {"LEADERBOARD.md", "index.html"}
    build(board)
    assert build(board, check=True) == []
    write(board, "third", guess_entry("third", [True] * 16))
    assert len(build(board, check=True)) == 2


def test_invalid_entry_stops_the_build(board):
    e = guess_entry("bad", [True] * 16)
    e["metrics"]["success"]["mean"] = 0.5
    write(board, "bad", e)
    with pytest.raises(EntryError, match="metrics/success/mean"):
        build(board)


def test_cli_build_validate_compare(board, capsys):
    assert main(["--root", str(board), "build"]) == 0
    assert main(["--root", str(board), "build", "--check"]) == 0
    a = board / "results/empg/GuessNumber-v0/strong.json"
    b = board / "results/empg/GuessNumber-v0/weak.json"
    assert main(["--root", str(board), "validate", str(a), str(b)]) == 0
    assert main(["--root", str(board), "compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "A - B" in out and "McNemar" in out and "b=8, B-only wins c=0" in out
    paper = board / "results/empg/GuessNumber-v0/paper.json"
    assert main(["--root", str(board), "compare", str(a), str(paper)]) == 2


def test_repository_leaderboard_is_up_to_date():
    root = default_root()
    if not (root / "results").is_dir():
        pytest.skip(f"no leaderboard folder at {root}")
    stale = build(root, check=True)
    assert stale == [], f"run `empg-leaderboard build`: stale {stale}"


def test_api(board):
    pytest.importorskip("flask")
    from empg_gym.eval.leaderboard import make_app

    client = make_app(board).test_client()
    assert b"strong" in client.get("/").data
    entries = client.get("/api/entries").get_json()
    assert sorted(e["agent"]["name"] for e in entries) == ["Paper method", "strong", "weak"]
    assert len(client.get("/api/entries/empg/GuessNumber-v0").get_json()) == 3
    assert client.get("/api/entries/empg/Nope-v0").status_code == 404
    res = client.get(
        "/api/compare?a=results/empg/GuessNumber-v0/strong.json&b=results/empg/GuessNumber-v0/weak.json"
    ).get_json()
    assert res["mcnemar"]["b"] == 8
    assert client.get("/api/compare?a=../../etc/passwd&b=x").status_code == 400
