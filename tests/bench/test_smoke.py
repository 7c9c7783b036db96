"""The smoke suite end to end, and run-level resume after a kill (slow: trains and evaluates small models)."""

from __future__ import annotations

import json

import pytest

from empg_gym.bench.cli import main
from empg_gym.bench.runner import RunPaths, run_one, run_suite
from empg_gym.bench.suite import load_suite

pytestmark = pytest.mark.slow


def entries(root, env, method, seed):
    p = RunPaths.of(root, env, method, seed)
    return {
        f.stem: json.loads(f.read_text())["per_episode"] for f in sorted((p.root / "eval").glob("*.json"))
    }


def metrics(root, env, method, seed):
    p = RunPaths.of(root, env, method, seed).train / "metrics.jsonl"
    keep = ("success", "train_return", "tokens", "steps", "adv_mean", "grad_norm")
    return [{k: r.get(k) for k in keep} for r in map(json.loads, p.read_text().splitlines())]


def test_smoke_suite_end_to_end_and_resume(tmp_path, capsys):
    suite = load_suite("smoke")
    env = suite.envs[0].name
    full = tmp_path / "full"
    assert main(["run", "--suite", "smoke", "--results", str(full), "--no-progress"]) == 0
    for m in suite.methods:
        r = json.loads(RunPaths.of(full, env, m, 0).result.read_text())
        assert r["iterations"] == 2 and r["method"] == m and r["evals"]
        assert r["phase_seconds"]["time_rollout"] > 0
    report = (full / "report.md").read_text()
    assert "| grpo | 1 |" in report and "| empg | 1 |" in report and (full / f"curves_{env}.png").is_file()
    capsys.readouterr()
    assert main(["status", "--suite", "smoke", "--results", str(full)]) == 0
    assert capsys.readouterr().out.strip().endswith("done: 2")

    # Killed benchmark: one run finished, the next killed after its first checkpoint (iteration 1 of 2).
    part = tmp_path / "part"
    run_suite(suite, part, progress=False, stop_after_runs=1)
    first, second = list(suite.methods)
    done = RunPaths.of(part, env, first, 0).result
    stamp = done.stat().st_mtime_ns
    assert not run_one(suite, part, suite.envs[0], second, 0, log=lambda s: None, stop_after=1)
    assert len(metrics(part, env, second, 0)) == 1
    capsys.readouterr()
    assert main(["status", "--suite", "smoke", "--results", str(part)]) == 0
    st = capsys.readouterr().out
    assert "partial  1/2" in st and "done: 1" in st
    # The same command resumes: the finished run is skipped (untouched), the killed one continues.
    assert main(["run", "--suite", "smoke", "--results", str(part), "--no-progress"]) == 0
    assert done.stat().st_mtime_ns == stamp
    for m in suite.methods:
        assert metrics(part, env, m, 0) == metrics(full, env, m, 0)
        assert entries(part, env, m, 0) == entries(full, env, m, 0)


def test_max_runs_zero_builds_and_evaluates_the_starts_only(tmp_path, capsys):
    res = tmp_path / "res"
    assert (
        main(
            [
                "run",
                "--suite",
                "smoke",
                "--results",
                str(res),
                "--max-runs",
                "0",
                "--no-progress",
                "--no-report",
            ]
        )
        == 0
    )
    start = res / "starts" / "deepsearch"
    assert (start / "start.json").is_file() and (start / "agent.yaml").is_file()
    assert (start / "eval" / "test-first4.json").is_file()
    assert not (res / "runs").exists()
    capsys.readouterr()
    assert main(["status", "--suite", "smoke", "--results", str(res)]) == 0
    assert capsys.readouterr().out.strip().endswith("pending: 2")
