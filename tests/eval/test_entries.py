"""The committed leaderboard entries reproduce: re-running the command gives the same entry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from empg_gym.eval.harness import evaluate
from empg_gym.eval.leaderboard import default_root
from empg_gym.eval.tasks import DATA_ENV_VARS

ROOT = default_root()
VOLATILE = ("date", "command", "git_commit", "wall_time_s", "package_version")
FAST = ("empg/GuessNumber-v0", "empg/KeyDoor-v0")
#: The real data sets sit next to the repository (``../shared/data``) on CI and development machines.
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
#: env id -> its folder under ``SHARED``; the variable that selects it is the env's first ``DATA_ENV_VARS``.
REAL_DATA = {"empg/WebShop-v0": "webshop", "empg/ALFWorld-v0": "alfworld"}


def use_entry_data(entry, monkeypatch):
    """Select the data the entry ran on: real data through its environment variable, else none."""
    env_id = entry["env"]["id"]
    variables = DATA_ENV_VARS.get(env_id, ())
    chosen = {v: os.environ.get(v) for v in variables}
    for v in variables:  # nothing of a developer's data choice leaks into the re-run
        monkeypatch.delenv(v, raising=False)
    if entry["data"]["kind"] != "real":
        return
    if env_id not in REAL_DATA:
        pytest.skip(f"{env_id} entry ran on real data this test does not know how to select")
    var = variables[0]
    path = Path(chosen[var] or SHARED / REAL_DATA[env_id])
    if not path.is_dir():
        pytest.skip(f"{env_id} entry ran on real data: set {var} (not found: {path})")
    monkeypatch.setenv(var, str(path))


def measured():
    out = []
    for p in sorted((ROOT / "results").rglob("*.json")) if (ROOT / "results").is_dir() else []:
        e = json.loads(p.read_text())
        if e["kind"] == "measured" and e["agent"]["spec"]["backend"] in ("random", "expert"):
            marks = () if e["env"]["id"] in FAST else (pytest.mark.slow,)
            out.append(pytest.param(p, e, id=p.relative_to(ROOT).as_posix(), marks=marks))
    return out


@pytest.mark.parametrize(("path", "entry"), measured())
def test_entry_reproduces(path, entry, tmp_path, monkeypatch):
    use_entry_data(entry, monkeypatch)
    again = evaluate(
        entry["agent"]["spec"]["backend"],
        entry["env"]["id"],
        split=entry["split"],
        seeds=entry["seeds"],
        batch_size=entry.get("batch_size", 16),
        max_steps=entry["max_steps"],
        out=tmp_path / "again.json",
        progress=False,
    )
    # spec/spec_hash are compared too: the built-in name must still mean the same agent.
    stable = {k: v for k, v in entry.items() if k not in VOLATILE}
    assert {k: v for k, v in again.items() if k not in VOLATILE} == stable, (
        f"{path} no longer reproduces (after a change to the env or its data provenance, refresh it with "
        f"`empg-leaderboard rerun {path}`)"
    )
