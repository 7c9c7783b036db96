"""Assemble a leaderboard entry from per-episode records (see ``entry.schema.json``).

Schema versions: 1 had no ``data`` block, so an entry did not say which data (real or generated) its env
ran on, and its task-list hash did not cover it. Version 2 records the env's data provenance in ``data``
and in the task-list hash, and lists ``warnings`` derived from the metrics (e.g. every action invalid).
:func:`migrate_entry` upgrades a version-1 entry given the provenance its recorded command implies (and
refreshes a fallback provenance, see :func:`empg_gym.eval.tasks.fallback_provenance`, once the env reports
its own).
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from empg_gym.eval.metrics import summarize
from empg_gym.eval.tasks import task_list_hash

__all__ = ["SCHEMA_VERSION", "entry_warnings", "git_commit", "make_entry", "migrate_entry"]

SCHEMA_VERSION = 2

#: Warning code of an entry whose every action was invalid (the agent never acted).
ALL_INVALID = "all_actions_invalid"


def entry_warnings(metrics: Mapping[str, Any]) -> list[str]:
    """Warnings implied by an entry's metrics (recomputed by validation, so they cannot be dropped).

    >>> entry_warnings({"invalid_action_rate": {"mean": 1.0}})
    ['all_actions_invalid']
    """
    inv = metrics.get("invalid_action_rate", {}).get("mean")
    return [ALL_INVALID] if inv is not None and inv >= 1.0 else []


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The checkout's HEAD commit (``-dirty`` when tracked files in ``empg_gym/`` changed), or None."""
    cwd = Path(cwd) if cwd else Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "empg_gym"],
                               cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "") if head else None


def make_entry(
    records: Sequence[Mapping[str, Any]],
    *,
    env_id: str,
    split: str,
    env_kwargs: Mapping[str, Any],
    options: Sequence[Mapping[str, Any]],
    task_list_name: str,
    seeds: Sequence[int],
    agent_name: str,
    agent_spec: Mapping[str, Any] | None,
    spec_hash: str | None,
    command: str | None,
    max_steps: int | None = None,
    env_spec_json: str | None = None,
    data: Mapping[str, Any] | None = None,
    wall_time_s: float | None = None,
    date: str | None = None,
    commit: str | None = None,
    package_version: str | None = None,
) -> dict[str, Any]:
    """A ``measured`` entry: metadata + :func:`~empg_gym.eval.metrics.summarize` of the records.

    Records are sorted by episode index, so the entry does not depend on finishing order. ``data`` is the
    env's data provenance (:func:`empg_gym.eval.tasks.data_provenance`); it is required.
    """
    from empg_gym import __version__

    recs = sorted((dict(r) for r in records), key=lambda r: r["episode"])
    ids: dict[int, str] = {}
    for r in recs:
        ids.setdefault(int(r["task"]), str(r["task_id"]))
    missing = [i for i in range(len(options)) if i not in ids]
    if missing:
        raise ValueError(f"no episode recorded for task positions {missing[:5]}...")
    if data is None:
        raise ValueError("make_entry needs data= (the env's data provenance, see empg_gym.eval.tasks)")
    summary = summarize(recs)
    version = env_id.rsplit("-v", 1)[1] if "-v" in env_id else "0"
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "measured",
        "env": {"id": env_id, "version": int(version) if version.isdigit() else 0,
                "kwargs": dict(env_kwargs), "spec": env_spec_json},
        "split": split,
        "data": dict(data),
        "task_list": {"name": task_list_name,
                      "hash": task_list_hash(env_id, split, env_kwargs, options,
                                             [ids[i] for i in range(len(options))], data),
                      "n_tasks": len(options), "options": [dict(o) for o in options]},
        "episodes": len(recs),
        "seeds": [int(s) for s in seeds],
        "max_steps": max_steps,
        "agent": {"name": agent_name, "spec": None if agent_spec is None else dict(agent_spec),
                  "spec_hash": spec_hash},
        "metrics": summary["metrics"],
        "per_type": summary["per_type"],
        "per_source": summary["per_source"],
        "per_seed": summary["per_seed"],
        "warnings": entry_warnings(summary["metrics"]),
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 3),
        "package_version": package_version or __version__,
        "git_commit": commit if commit is not None else git_commit(),
        "date": date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "per_episode": recs,
    }


def migrate_entry(entry: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """A ``measured`` entry with the data provenance ``data``: schema 1 upgraded, or a fallback refreshed.

    - Schema 1 (no ``data``): upgraded to the current schema with ``data``.
    - Current schema with a *fallback* provenance (``params.fallback``: written before the env had its own
      ``data_provenance()``, so it named the data without hashing it): ``data`` replaces it, provided it is of
      the same kind (real stays real, generated stays generated).

    The per-episode records and metrics are kept; the task-list hash is recomputed with ``data`` after
    checking the stored one against the old formula, so a hand-edited entry is not laundered.

    Raises:
        ValueError: Neither case, a stored hash that does not recompute, or a change of data kind.
    """
    e = dict(entry)
    version = e.get("schema_version")
    old_data: Mapping[str, Any] = e["data"] if isinstance(e.get("data"), Mapping) else {}
    refresh = version == SCHEMA_VERSION and bool(dict(old_data.get("params") or {}).get("fallback"))
    if e.get("kind") != "measured" or not (version == 1 or refresh):
        raise ValueError(f"only schema-1 measured entries, or entries with a fallback data provenance, are "
                         f"migrated (this one: schema {version}, kind {e.get('kind')})")
    if refresh and old_data["kind"] != data.get("kind"):
        raise ValueError(f"the env now reports {data.get('kind')} data but the entry was measured on "
                         f"{old_data['kind']} data; set the data options (e.g. WEBSHOP_DATA) as when it was "
                         "measured")
    tl = dict(e["task_list"])
    ids: dict[int, str] = {}
    for r in e["per_episode"]:
        ids.setdefault(int(r["task"]), str(r["task_id"]))
    task_ids = [ids[i] for i in range(int(tl["n_tasks"]))]
    kwargs = e["env"].get("kwargs", {})
    old = task_list_hash(e["env"]["id"], e["split"], kwargs, tl["options"], task_ids,
                         old_data if refresh else None)
    if old != tl["hash"]:
        raise ValueError(f"stored task-list hash {tl['hash']} does not recompute ({old}); not migrating")
    tl["hash"] = task_list_hash(e["env"]["id"], e["split"], kwargs, tl["options"], task_ids, data)
    out: dict[str, Any] = {}
    for k, v in e.items():  # keep the key order of a fresh entry
        if k == "data":
            continue
        out[k] = v
        if k == "split":
            out["data"] = dict(data)
    out["schema_version"] = SCHEMA_VERSION
    out["task_list"] = tl
    out["warnings"] = entry_warnings(e["metrics"])
    return out


def default_root() -> Path:
    """The leaderboard: ``$EMPG_LEADERBOARD``, else the checkout's ``leaderboard/`` or ``./leaderboard``.

    (Here rather than in :mod:`.leaderboard` so that the harness can find it without importing the leaderboard,
    which imports the harness to re-run entries.)
    """
    env = os.environ.get("EMPG_LEADERBOARD")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "leaderboard"
    return repo if repo.is_dir() else Path.cwd() / "leaderboard"
