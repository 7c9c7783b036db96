"""Leaderboard rendering, grouping by task list and data, the up-to-date check, publishing, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from empg_gym.eval.leaderboard import (
    add_entry,
    build,
    default_root,
    load_board,
    main,
    render_html,
    render_markdown,
)
from empg_gym.eval.schema import EntryError

from .helpers import guess_entry, reported_entry

#: A second data source for the same env and tasks (what the real WebShop catalog is to the generated one).
OTHER_DATA = {
    "kind": "real",
    "source": "guess-real",
    "files": {"numbers.json": "sha256:" + "ab" * 32},
    "params": {},
}


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


def test_rows_sorted_best_first_reported_in_their_own_table(board):
    b = load_board(board)
    assert [[r.label for r in g.rows] for g in b.groups] == [["strong", "weak"], ["Paper method"]]
    assert [g.reported for g in b.groups] == [False, True] and b.skipped == []


def test_markdown_table(board):
    md = render_markdown(load_board(board))
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| 1 | strong | 75.0 [")
    assert lines[2].startswith("| 2 | weak | 25.0 [")
    assert lines[4].startswith("| Paper method *(reported)* | 90.0 | – | test (paper's) |")
    assert "### test · builtin data guessnumber" in md and "### reported by papers" in md


def test_html_has_every_entry_and_bars(board):
    page = render_html(load_board(board))
    for name in ("strong", "weak", "Paper method (reported)"):
        assert f">{name}<" in page
    assert page.count('class="bar"') == 2 * 2 + 1  # success + score per measured row, success for reported
    assert page.count('<table class="board"') == 2
    assert 'class="reported"' in page and "<script>" in page


def test_real_and_generated_data_never_share_a_table(tmp_path):
    write(tmp_path, "a-builtin", guess_entry("a", [True] * 16))
    write(tmp_path, "b-builtin", guess_entry("b", [False] * 16))
    write(tmp_path, "a-real", guess_entry("a", [True] * 8 + [False] * 8, data=OTHER_DATA))
    b = load_board(tmp_path)
    measured = [g for g in b.groups if not g.reported]
    assert len(measured) == 2
    kinds = [{r.entry["data"]["kind"] for r in g.rows} for g in measured]
    assert kinds == [{"real"}, {"builtin"}]  # real first, and each table holds one kind of data
    assert len({g.task_hash for g in measured}) == 2
    md = render_markdown(b)
    assert md.count("### test · ") == 2 and "real data guess-real (1 files, sha256 " in md
    # ranks restart per table: the real-data "a" is #1 of its own table
    assert [line.split(" | ")[:2] for line in md.splitlines() if line.startswith("| 1 |")] == [
        ["| 1", "a"],
        ["| 1", "a"],
    ]


def test_build_and_check(board):
    assert {p.name for p in build(board, check=True)[0]} == {"LEADERBOARD.md", "index.html"}
    build(board)
    assert build(board, check=True) == ([], [])
    write(board, "third", guess_entry("third", [True] * 16))
    assert len(build(board, check=True)[0]) == 2


def test_invalid_entry_is_skipped_and_reported_not_fatal(board, capsys):
    e = guess_entry("bad", [True] * 16)
    e["metrics"]["success"]["mean"] = 0.5
    write(board, "bad", e)
    (board / "results/empg/GuessNumber-v0/torn.json").write_text(
        json.dumps(guess_entry("t", [True] * 16))[:500]
    )
    (board / "results/empg/GuessNumber-v0/empty.json").write_text("")
    changed, skipped = build(board)
    assert [p for p, _ in skipped] == [
        f"results/empg/GuessNumber-v0/{n}.json" for n in ("bad", "empty", "torn")
    ]
    assert "metrics/success/mean" in skipped[0][1] and "empty" in skipped[1][1]
    assert "not valid JSON (truncated or torn?)" in skipped[2][1]
    md = (board / "LEADERBOARD.md").read_text()
    assert (
        "| 1 | strong |" in md
        and "## Skipped entries" in md
        and "`results/empg/GuessNumber-v0/torn.json`" in md
    )
    assert main(["--root", str(board), "build"]) == 1  # written, but the invalid entries fail the command
    assert "skipped invalid entry results/empg/GuessNumber-v0/bad.json" in capsys.readouterr().err


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


def test_compare_takes_entries_from_anywhere_but_refuses_other_data(tmp_path, capsys):
    a, b, c = tmp_path / "a.json", tmp_path / "elsewhere" / "b.json", tmp_path / "c.json"
    b.parent.mkdir()
    a.write_text(json.dumps(guess_entry("a", [True] * 16)))
    b.write_text(json.dumps(guess_entry("b", [False] * 16)))
    c.write_text(json.dumps(guess_entry("c", [False] * 16, data=OTHER_DATA)))
    assert main(["compare", str(a), str(b)]) == 0
    assert "16 paired episodes" in capsys.readouterr().out
    assert main(["compare", str(a), str(c)]) == 2
    err = capsys.readouterr().err
    assert "different data: A (a) ran on builtin data guessnumber" in err and "real data guess-real" in err


def test_add_validates_then_publishes(tmp_path, capsys):
    root = tmp_path / "lb"
    src = tmp_path / "runs" / "x.json"
    src.parent.mkdir()
    src.write_text(json.dumps(guess_entry("mine", [True] * 10 + [False] * 6)))
    assert main(["--root", str(root), "add", str(src)]) == 0
    dest = root / "results/empg/GuessNumber-v0/mine_test_builtin.json"
    assert json.loads(dest.read_text()) == json.loads(src.read_text())
    assert "| 1 | mine | 62.5 [" in (root / "LEADERBOARD.md").read_text()
    # same entry again: a no-op; a different one under the same name needs --replace
    assert main(["--root", str(root), "add", str(src)]) == 0
    src.write_text(json.dumps(guess_entry("mine", [True] * 16)))
    assert main(["--root", str(root), "add", str(src)]) == 1
    assert "pass --replace" in capsys.readouterr().err
    assert main(["--root", str(root), "add", "--replace", str(src)]) == 0
    # an invalid entry is not copied
    bad = guess_entry("hand-edited", [True] * 16)
    bad["metrics"]["success"]["mean"] = 0.1
    src.write_text(json.dumps(bad))
    assert main(["--root", str(root), "add", str(src)]) == 1
    assert "not added" in capsys.readouterr().err
    assert not list(root.glob("results/**/hand-edited*"))
    # a quick --episodes run is not a leaderboard entry
    with pytest.raises(EntryError, match="not the documented list"):
        quick = guess_entry("q", [True] * 16)
        quick["task_list"]["options"] = quick["task_list"]["options"][:4]
        src.write_text(json.dumps(quick))
        add_entry(root, src)


def test_repository_leaderboard_is_up_to_date():
    root = default_root()
    if not (root / "results").is_dir():
        pytest.skip(f"no leaderboard folder at {root}")
    stale, skipped = build(root, check=True)
    assert skipped == [], f"invalid committed entries: {skipped}"
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


def test_api_survives_a_torn_entry(board):
    pytest.importorskip("flask")
    from empg_gym.eval.leaderboard import make_app

    (board / "results/empg/GuessNumber-v0/torn.json").write_text('{"schema_version": 2, "kind": "meas')
    client = make_app(board).test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"strong" in page.data and b"torn.json" in page.data
    assert client.get("/api/entries").status_code == 200
    assert len(client.get("/api/entries").get_json()) == 3
    skipped = client.get("/api/skipped").get_json()
    assert [s["path"] for s in skipped] == ["results/empg/GuessNumber-v0/torn.json"]
    res = client.get(
        "/api/compare?a=results/empg/GuessNumber-v0/torn.json&b=results/empg/GuessNumber-v0/weak.json"
    )
    assert res.status_code == 400 and "not valid JSON" in res.get_json()["error"]


def schema_1(entry):
    """``entry`` as schema version 1 wrote it: no data, no warnings, the hash without the data."""
    from empg_gym.eval.tasks import task_list_hash

    e = json.loads(json.dumps(entry))
    del e["data"], e["warnings"]
    e["schema_version"] = 1
    ids = [r["task_id"] for r in e["per_episode"]]
    e["task_list"]["hash"] = task_list_hash(
        e["env"]["id"], e["split"], e["env"]["kwargs"], e["task_list"]["options"], ids
    )
    return e


def test_migrate_upgrades_schema_1_entries(tmp_path, capsys):
    from empg_gym.eval.tasks import data_provenance

    p = write(tmp_path, "old", schema_1(guess_entry("old", [True] * 16)))
    assert load_board(tmp_path).skipped[0][1].startswith("schema_version: 1 is outdated")
    assert main(["--root", str(tmp_path), "migrate", str(p)]) == 0
    new = json.loads(p.read_text())
    import gymnasium as gym

    env = gym.make("empg/GuessNumber-v0")
    assert new["schema_version"] == 2 and new["data"] == data_provenance(env) and new["warnings"] == []
    assert [r.label for r in load_board(tmp_path).rows()] == ["old"]
    # a hand-edited schema-1 entry is not laundered into a valid one
    bad = schema_1(guess_entry("bad", [True] * 16))
    bad["task_list"]["hash"] = "0" * 16
    q = write(tmp_path, "bad", bad)
    assert main(["--root", str(tmp_path), "migrate", str(q)]) == 1
    assert "does not recompute" in capsys.readouterr().err
    assert json.loads(q.read_text())["schema_version"] == 1


def test_migrate_refreshes_a_fallback_provenance_once_the_env_reports_its_own(tmp_path, monkeypatch, capsys):
    from empg_gym.envs.toy.guess_number import GuessNumberEnv

    p = write(tmp_path, "fb", guess_entry("fb", [True] * 16))  # helpers record the fallback provenance
    own = {"kind": "builtin", "source": "guess-number", "files": {}, "params": {"n": 16}}
    monkeypatch.setattr(GuessNumberEnv, "data_provenance", lambda self: own, raising=False)
    assert main(["--root", str(tmp_path), "migrate", str(p)]) == 0
    new = json.loads(p.read_text())
    assert new["data"] == own and new["per_episode"] == guess_entry("fb", [True] * 16)["per_episode"]
    assert main(["--root", str(tmp_path), "migrate", str(p)]) == 1  # no fallback left: nothing to do
    assert "only schema-1 measured entries, or entries with a fallback" in capsys.readouterr().err
    q = write(tmp_path, "fb2", guess_entry("fb2", [True] * 16))
    monkeypatch.setattr(
        GuessNumberEnv, "data_provenance", lambda self: {**own, "kind": "real"}, raising=False
    )
    assert main(["--root", str(tmp_path), "migrate", str(q)]) == 1
    assert (
        "the env now reports real data but the entry was measured on builtin data" in capsys.readouterr().err
    )


def test_rerun_replays_the_recorded_command(tmp_path, monkeypatch, capsys):
    from empg_gym.eval.harness import main as eval_main

    monkeypatch.chdir(tmp_path)
    assert eval_main(["--agent", "random", "--env", "empg/GuessNumber-v0", "--no-progress"]) == 0
    root = tmp_path / "lb"
    assert main(["--root", str(root), "add", "runs/eval/empg/GuessNumber-v0/random_test.json"]) == 0
    p = root / "results/empg/GuessNumber-v0/random_test_builtin.json"
    before = json.loads(p.read_text())
    p.rename(p.with_name("old-name.json"))
    capsys.readouterr()
    assert main(["--root", str(root), "rerun", str(p.with_name("old-name.json"))]) == 0
    printed = capsys.readouterr().out
    assert (
        "random on empg/GuessNumber-v0" in printed
        and "publish it" not in printed
        and "entry.json" not in printed
    )
    after = json.loads(p.read_text())
    assert not p.with_name("old-name.json").exists()  # replaced under the standard name
    assert (
        after["command"]
        == before["command"]
        == "empg-eval --agent random --env empg/GuessNumber-v0 --no-progress"
    )
    volatile = ("date", "git_commit", "wall_time_s")
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in before.items() if k not in volatile
    }
    bad = write(root, "noc", {**before, "command": None})
    assert main(["--root", str(root), "rerun", str(bad)]) == 1
    assert "no recorded empg-eval command" in capsys.readouterr().err
