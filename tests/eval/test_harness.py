"""empg-eval: entries from real toy-env runs, and kill/resume giving the same entry."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from empg_gym.eval.harness import RunMismatch, evaluate, main, reset_seed
from empg_gym.eval.schema import validate_entry

from .fakes import StopAfter

VOLATILE = ("date", "command", "git_commit", "wall_time_s")
CFG = dict(split="test", limit=24, batch_size=8, progress=False)


def stable(entry):
    return {k: v for k, v in entry.items() if k not in VOLATILE}


def run_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_expert_and_random_entries(tmp_path):
    ex = evaluate(
        "expert",
        "empg/GuessNumber-v0",
        out=tmp_path / "results/empg/GuessNumber-v0/e.json",
        seeds=(0, 1),
        progress=False,
    )
    validate_entry(ex, path=tmp_path / "results/empg/GuessNumber-v0/e.json", documented=True)
    assert ex["metrics"]["success"]["mean"] == 1.0 and ex["episodes"] == 32
    # binary search over 1..16: at most 5 guesses, every task solved in the same number under both seeds
    steps = [r["steps"] for r in ex["per_episode"]]
    assert max(steps) <= 5 and steps[:16] == steps[16:]
    assert [r["reset_seed"] for r in ex["per_episode"][15:17]] == [15, reset_seed(1, 0)]
    assert ex["agent"]["name"] == "expert" and len(ex["agent"]["spec_hash"]) == 16
    assert not (tmp_path / "results/empg/GuessNumber-v0/e.json.partial.jsonl").exists()
    rnd = evaluate("random", "empg/KeyDoor-v0", out=tmp_path / "r.json", **CFG)
    assert 0.0 <= rnd["metrics"]["success"]["mean"] < 0.5
    assert rnd["task_list"]["options"][0] == {"task_index": 100}


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    full = evaluate("random", "empg/KeyDoor-v0", out=tmp_path / "full.json", **CFG)
    out = tmp_path / "resumed.json"
    with pytest.raises(KeyboardInterrupt):  # stops inside the second batch
        evaluate(StopAfter(30), "empg/KeyDoor-v0", agent_spec="random", out=out, **CFG)
    part = out.with_name("resumed.json.partial.jsonl")
    lines = run_lines(part)
    assert not out.exists() and [x["batch"] for x in lines if x["type"] == "batch"] == ["0:0"]
    resumed = evaluate("random", "empg/KeyDoor-v0", out=out, keep_run_file=True, **CFG)
    assert stable(resumed) == stable(full)
    # the finished batch was not replayed: its episodes are on disk once
    eps = [x["episode"] for x in run_lines(part) if x["type"] == "episode"]
    assert all(eps.count(k) == 1 for k in range(8)) and set(eps) == set(range(24))


def test_killed_process_then_resumed_equals_uninterrupted(tmp_path):
    full = evaluate("random", "empg/KeyDoor-v0", out=tmp_path / "full.json", **CFG)
    out = tmp_path / "killed.json"
    repo = Path(__file__).resolve().parents[2]
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(repo)!r})
        from tests.eval.fakes import StopAfter
        from empg_gym.eval.harness import evaluate
        evaluate(StopAfter(45, kill=True), "empg/KeyDoor-v0", agent_spec="random", out={str(out)!r},
                 split="test", limit=24, batch_size=8, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    part = out.with_name("killed.json.partial.jsonl")
    assert not out.exists() and any(x["type"] == "episode" for x in run_lines(part))
    with part.open("a") as f:  # a record torn by the kill
        f.write('{"type": "episode", "episo')
    resumed = evaluate("random", "empg/KeyDoor-v0", out=out, **CFG)
    assert stable(resumed) == stable(full)
    assert not part.exists()


def test_other_configuration_refuses_to_resume(tmp_path):
    out = tmp_path / "x.json"
    with pytest.raises(KeyboardInterrupt):
        evaluate(StopAfter(5), "empg/KeyDoor-v0", agent_spec="random", out=out, **CFG)
    with pytest.raises(RunMismatch, match="differs in: batch_size"):
        evaluate("random", "empg/KeyDoor-v0", out=out, **{**CFG, "batch_size": 4})
    e = evaluate("random", "empg/KeyDoor-v0", out=out, fresh=True, **{**CFG, "batch_size": 4})
    assert e["batch_size"] == 4


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli.json"
    assert (
        main(
            [
                "--agent",
                "expert",
                "--env",
                "empg/KeyDoor-v0",
                "--episodes",
                "5",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "expert on empg/KeyDoor-v0 [test]: 5 episodes" in text and "success 100.0%" in text
    entry = json.loads(out.read_text())
    assert entry["command"].startswith("empg-eval --agent expert --env empg/KeyDoor-v0")
    assert main(["--agent", "expert", "--env", "empg/KeyDoor-v0", "--split", "nope"]) == 2
    assert "no documented task list" in capsys.readouterr().err
    assert main(["--agent", "nobody", "--env", "empg/KeyDoor-v0"]) == 2
