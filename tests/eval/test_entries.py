"""The committed leaderboard entries reproduce: re-running the command gives the same entry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from empg_gym.eval.harness import evaluate
from empg_gym.eval.leaderboard import default_root

ROOT = default_root()
VOLATILE = ("date", "command", "git_commit", "wall_time_s", "package_version")
FAST = ("empg/GuessNumber-v0", "empg/KeyDoor-v0")
#: The real data sets sit next to the repository (``../shared/data``) on CI and development machines.
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
#: env id -> (the environment variable that selects its real data, the folder under ``SHARED``).
REAL_DATA = {"empg/WebShop-v0": ("WEBSHOP_DATA", "webshop"), "empg/ALFWorld-v0": ("ALFWORLD_DATA", "alfworld")}


def use_entry_data(entry, monkeypatch):
    """Select the data the entry ran on: real data through its environment variable, else none."""
    var, folder = REAL_DATA.get(entry["env"]["id"], (None, None))
    if var is None:
        return
    if entry["data"]["kind"] != "real":
        monkeypatch.delenv(var, raising=False)  # a generated-data entry must not pick up a developer's real data
        return
    path = Path(os.environ.get(var) or SHARED / folder)
    if not path.is_dir():
        pytest.skip(f"{entry['env']['id']} entry ran on real data: set {var} (not found: {path})")
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
