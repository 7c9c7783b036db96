"""The committed leaderboard entries reproduce: re-running the command gives the same entry."""

from __future__ import annotations

import json

import pytest

from empg_gym.eval.harness import evaluate
from empg_gym.eval.leaderboard import default_root

ROOT = default_root()
VOLATILE = ("date", "command", "git_commit", "wall_time_s", "package_version")
FAST = ("empg/GuessNumber-v0", "empg/KeyDoor-v0")


def measured():
    out = []
    for p in sorted((ROOT / "results").rglob("*.json")) if (ROOT / "results").is_dir() else []:
        e = json.loads(p.read_text())
        if e["kind"] == "measured" and e["agent"]["spec"]["backend"] in ("random", "expert"):
            marks = () if e["env"]["id"] in FAST else (pytest.mark.slow,)
            out.append(pytest.param(p, e, id=p.relative_to(ROOT).as_posix(), marks=marks))
    return out


@pytest.mark.parametrize(("path", "entry"), measured())
def test_entry_reproduces(path, entry, tmp_path):
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
