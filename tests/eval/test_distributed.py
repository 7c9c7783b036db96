"""empg-eval on Ray actors: the single-process entry, resume across worker counts, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from empg_gym import _optional
from empg_gym.eval.harness import evaluate, main

VOLATILE = ("date", "command", "git_commit", "wall_time_s")
ALFWORLD_DATA = Path(os.environ.get("ALFWORLD_DATA", "/work/shared/data/alfworld"))


def stable(entry):
    return {k: v for k, v in entry.items() if k not in VOLATILE}


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_workers_flag_without_ray_names_the_extra(monkeypatch, capsys, tmp_path):
    real = _optional.importlib.import_module

    def no_ray(name, *a, **k):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, *a, **k)

    monkeypatch.setattr(_optional.importlib, "import_module", no_ray)
    rc = main(["--agent", "random", "--env", "empg/KeyDoor-v0", "--workers", "2", "--out",
               str(tmp_path / "e.json"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and 'pip install -c constraints.txt "empg-gym[ray]"' in err and "--workers" in err
    assert not (tmp_path / "e.json.partial.jsonl").exists()


def test_workers_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        main(["--agent", "random", "--env", "empg/KeyDoor-v0", "--workers", "0"])
    assert "--workers must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_two_workers_give_the_single_process_entry_on_a_toy_env(ray_cluster, tmp_path):
    cfg = dict(split="test", limit=40, batch_size=8, seeds=(0, 3), progress=False)
    one = evaluate("random", "empg/KeyDoor-v0", out=tmp_path / "w1.json", **cfg)
    two = evaluate("random", "empg/KeyDoor-v0", out=tmp_path / "w2.json", workers=2,
                   keep_run_file=True, **cfg)
    assert stable(two) == stable(one)
    assert 0.0 < one["metrics"]["success"]["mean"] < 1.0  # a random agent: not a degenerate comparison
    # the driver wrote every episode and batch once, though batches finished on two actors
    lines = [json.loads(x) for x in (tmp_path / "w2.json.partial.jsonl").read_text().splitlines()]
    eps = sorted(x["episode"] for x in lines if x["type"] == "episode")
    assert eps == list(range(80)) and sum(x["type"] == "batch" for x in lines) == 10


@pytest.mark.slow
def test_resume_a_single_process_run_on_workers(ray_cluster, tmp_path):
    from .fakes import StopAfter

    cfg = dict(split="test", limit=24, batch_size=8, progress=False)
    full = evaluate("random", "empg/KeyDoor-v0", out=tmp_path / "full.json", **cfg)
    out = tmp_path / "resumed.json"
    with pytest.raises(KeyboardInterrupt):  # stops inside the second batch
        evaluate(StopAfter(30), "empg/KeyDoor-v0", agent_spec="random", out=out, **cfg)
    resumed = evaluate("random", "empg/KeyDoor-v0", out=out, workers=2, keep_run_file=True, **cfg)
    assert stable(resumed) == stable(full)
    lines = [json.loads(x) for x in out.with_name("resumed.json.partial.jsonl").read_text().splitlines()]
    assert [x["batch"] for x in lines if x["type"] == "batch"][0] == "0:0"  # kept, not replayed
    assert sorted(x["batch"] for x in lines if x["type"] == "batch") == ["0:0", "0:16", "0:8"]


@pytest.mark.slow
def test_two_workers_give_the_single_process_entry_on_alfworld(ray_cluster, tmp_path):
    if not (ALFWORLD_DATA / "valid_unseen_games.txt").is_file():
        pytest.skip(f"no ALFWorld data at {ALFWORLD_DATA} (set ALFWORLD_DATA)")
    cfg = dict(split="test", limit=6, batch_size=3, progress=False, max_steps=12,
               env_kwargs={"data_dir": str(ALFWORLD_DATA)})
    for agent in ("expert", "random"):
        one = evaluate(agent, "empg/ALFWorld-v0", out=tmp_path / f"{agent}1.json", **cfg)
        two = evaluate(agent, "empg/ALFWorld-v0", out=tmp_path / f"{agent}2.json", workers=2, **cfg)
        assert stable(two) == stable(one)
        assert one["episodes"] == 6
    assert one["metrics"]["success"]["mean"] < 1.0  # the random agent's entry is not the expert's
