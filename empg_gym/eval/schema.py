"""Leaderboard entry schema and validation.

An entry is a JSON object described by ``entry.schema.json`` (next to this module; published in
``leaderboard/README.md``). :func:`validate_entry` checks an entry in two stages and reports **every** problem
it finds, each as ``<where>: <what is wrong>``:

1. The JSON schema (types, required fields, patterns), when ``jsonschema`` is installed (extra ``dev``).
2. Consistency, which a schema cannot express. For a ``measured`` entry: the per-episode records cover
   every (task, seed) pair exactly once and ``episodes`` counts them; each task keeps one task id across
   seeds; the data provenance has the documented shape; the task-list hash recomputed from the options, the
   task ids and the data provenance matches; the metrics recomputed from the records match the stored ones
   (a hand-edited number is rejected) and so do the warnings; the env version matches the ID's ``-vN``; with
   ``documented=True``, the task list and env kwargs are the documented ones for that env and split
   (:mod:`empg_gym.eval.tasks`). For a ``reported`` entry: a source is cited, no per-episode records are
   claimed. With ``in_tree=True`` (entries of the leaderboard), the file must live in ``results/<env id>/``.

The schema version is checked first: a version-1 entry (no data provenance) gets one clear problem saying
how to upgrade it (re-run its command, or ``empg-leaderboard migrate``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from empg_gym._optional import is_available

__all__ = ["SCHEMA_PATH", "EntryError", "load_entry", "load_schema", "read_entry", "validate_entry"]

#: The published JSON schema of an entry.
SCHEMA_PATH = Path(__file__).with_name("entry.schema.json")


class EntryError(ValueError):
    """A malformed or inconsistent leaderboard entry; ``problems`` lists every finding."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems
        super().__init__(f"invalid leaderboard entry {where}:\n" + "\n".join(f"  - {p}" for p in problems))


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The entry JSON schema (a dict)."""
    return json.loads(SCHEMA_PATH.read_text())


def _schema_problems(entry: Mapping[str, Any]) -> list[str]:
    if not is_available("jsonschema"):
        return []
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    out = []
    for err in sorted(validator.iter_errors(entry), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        out.append(f"{where}: {err.message}")
    return out


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return a == b


def _compare_block(stored: Any, recomputed: Any, where: str, out: list[str]) -> None:
    """Recursively compare a stored metrics block with the recomputed one."""
    if isinstance(recomputed, Mapping):
        if not isinstance(stored, Mapping):
            out.append(f"{where}: expected an object, got {type(stored).__name__}")
            return
        for k in sorted(set(recomputed) | set(stored)):
            if k not in stored:
                out.append(f"{where}/{k}: missing (recomputed from per_episode: {recomputed[k]})")
            elif k not in recomputed:
                out.append(f"{where}/{k}: not supported by the per-episode records")
            else:
                _compare_block(stored[k], recomputed[k], f"{where}/{k}", out)
    elif not _close(stored, recomputed):
        out.append(f"{where}: stored {stored} but the per-episode records give {recomputed}")


def _measured_problems(entry: Mapping[str, Any], documented: bool) -> list[str]:
    from empg_gym.eval.entry import entry_warnings
    from empg_gym.eval.metrics import summarize
    from empg_gym.eval.tasks import TASK_LISTS, check_provenance, task_list_hash

    out: list[str] = check_provenance(entry.get("data"), "data")
    env_id, split = entry["env"]["id"], entry["split"]
    tl = entry["task_list"]
    recs = entry["per_episode"]
    seeds = list(entry["seeds"])
    n_tasks = int(tl["n_tasks"])
    if len(tl["options"]) != n_tasks:
        out.append(f"task_list/n_tasks: {n_tasks} but {len(tl['options'])} task options are listed")
    if entry["episodes"] != len(recs):
        out.append(f"episodes: {entry['episodes']} but per_episode has {len(recs)} records")
    expected = {(t, s) for t in range(n_tasks) for s in seeds}
    seen: dict[tuple[int, int], int] = {}
    for i, r in enumerate(recs):
        key = (int(r["task"]), int(r["seed"]))
        if key in seen:
            out.append(f"per_episode/{i}: task {key[0]} seed {key[1]} already recorded "
                       f"(per_episode/{seen[key]})")
        seen[key] = i
        if key not in expected:
            out.append(f"per_episode/{i}: task {key[0]} seed {key[1]} is outside the task list x seeds")
    missing = sorted(expected - set(seen))
    if missing:
        out.append(f"per_episode: {len(missing)} (task, seed) episodes missing, e.g. {missing[:3]} "
                   "(an interrupted evaluation? resume it with the same command)")
    ids: dict[int, str] = {}
    for i, r in enumerate(recs):
        t = int(r["task"])
        if t in ids and ids[t] != r["task_id"]:
            out.append(f"per_episode/{i}: task {t} is {r['task_id']!r} here but {ids[t]!r} in another seed")
        ids.setdefault(t, r["task_id"])
    if not out:
        h = task_list_hash(env_id, split, entry["env"].get("kwargs", {}), tl["options"],
                           [ids[t] for t in range(n_tasks)], entry["data"])
        if h != tl["hash"]:
            out.append(f"task_list/hash: stored {tl['hash']} but the options, task ids and data give {h}")
        rec = summarize(recs)
        _compare_block(entry["metrics"], rec["metrics"], "metrics", out)
        want = entry_warnings(rec["metrics"])
        if list(entry.get("warnings", [])) != want:
            out.append(f"warnings: stored {entry.get('warnings')} but the per-episode records give {want}")
        for block in ("per_type", "per_source", "per_seed"):
            _compare_block(entry.get(block, {}), rec[block], block, out)
    if documented:
        doc = TASK_LISTS.get((env_id, split))
        if doc is None:
            out.append(f"split: {env_id} has no documented task list for split {split!r} "
                       f"(documented: {sorted(s for e, s in TASK_LISTS if e == env_id) or 'none'})")
        else:
            if tl["options"] != doc.options():
                out.append(f"task_list/options: not the documented list {doc.name} ({doc.note}: "
                           f"{doc.n} tasks from task_index {doc.start}); re-run without --episodes")
            kwargs = dict(entry["env"].get("kwargs", {}))
            if any(kwargs.get(k) != v for k, v in doc.env_kwargs.items()):
                out.append(f"env/kwargs: {kwargs} do not include the documented {dict(doc.env_kwargs)}")
    return out


def _version_problem(entry: Mapping[str, Any]) -> str | None:
    from empg_gym.eval.entry import SCHEMA_VERSION

    v = entry.get("schema_version")
    if v == SCHEMA_VERSION:
        return None
    if v == 1:
        how = ("re-run the command recorded in its 'command' field with this empg-eval, or upgrade it with "
               "`empg-leaderboard migrate FILE` (run with the same data environment variables, e.g. "
               "WEBSHOP_DATA, as when it was measured)") if entry.get("kind") == "measured" else \
            f"set \"schema_version\": {SCHEMA_VERSION} (reported entries need no other change)"
        return (f"schema_version: 1 is outdated (version {SCHEMA_VERSION} records which data the env ran on, "
                f"real or generated); {how}")
    return f"schema_version: {v!r} is not a known version (this empg-gym writes and reads {SCHEMA_VERSION})"


def validate_entry(entry: Any, *, path: str | os.PathLike | None = None, documented: bool = False,
                   in_tree: bool = False) -> None:
    """Check a leaderboard entry; raise :class:`EntryError` listing every problem.

    Args:
        entry: The parsed JSON.
        path: Where the entry is stored (named in the error).
        documented: Also require the documented task list of the env and split (leaderboard rule).
        in_tree: The entry is part of a leaderboard: ``path`` must be ``.../results/<env id>/<file>.json``.

    Raises:
        EntryError: If anything is wrong.
    """
    where = str(path) if path is not None else "(entry)"
    if not isinstance(entry, Mapping):
        raise EntryError(where, [f"an entry is a JSON object, got {type(entry).__name__}"])
    version = _version_problem(entry)
    if version is not None:  # other findings would only repeat what the version change explains
        raise EntryError(where, [version])
    problems = _schema_problems(entry)
    if problems:  # consistency checks assume the shape is right
        raise EntryError(where, problems)
    env_id = str(entry.get("env", {}).get("id", ""))
    if "-v" in env_id:
        v = env_id.rsplit("-v", 1)[1]
        if v.isdigit() and int(v) != entry["env"].get("version"):
            problems.append(f"env/version: {entry['env'].get('version')} but the ID {env_id} says {int(v)}")
    if in_tree and path is not None:
        parent = Path(path).resolve().parent
        want = Path(*env_id.split("/"))
        if parent.parts[-len(want.parts):] != want.parts:
            problems.append(f"path: an entry for {env_id} belongs in results/{env_id}/, not {parent}")
    if entry.get("kind") == "measured":
        problems += _measured_problems(entry, documented)
    elif entry.get("kind") == "reported":
        for k, m in entry.get("metrics", {}).items():
            if m.get("mean") is not None and not 0 <= m["mean"] <= 1 and k in ("success", "score"):
                problems.append(f"metrics/{k}/mean: {m['mean']} is not a fraction in [0, 1] "
                                "(write 73.7% as 0.737)")
    if problems:
        raise EntryError(where, problems)


def read_entry(path: str | os.PathLike) -> Any:
    """Parse an entry file (no validation).

    Raises:
        EntryError: Missing, unreadable, empty, not UTF-8 or not JSON (a torn or truncated file).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EntryError(str(path), ["no such file"]) from None
    except IsADirectoryError:
        raise EntryError(str(path), ["is a folder, not an entry file"]) from None
    except UnicodeDecodeError as e:
        raise EntryError(str(path), [f"not UTF-8 text ({e.reason} at byte {e.start})"]) from None
    except OSError as e:
        raise EntryError(str(path), [f"cannot read it: {e.strerror or e}"]) from None
    if not text.strip():
        raise EntryError(str(path), ["the file is empty (an interrupted copy?)"])
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise EntryError(str(path), [f"not valid JSON (truncated or torn?): {e.msg} at line {e.lineno} "
                                     f"column {e.colno}"]) from None


def load_entry(path: str | os.PathLike, *, documented: bool = False, in_tree: bool = False) -> dict[str, Any]:
    """Read and validate an entry file (see :func:`validate_entry` for ``documented`` and ``in_tree``).

    Raises:
        EntryError: If the file is missing, not JSON, or the entry is invalid.
    """
    entry = read_entry(path)
    validate_entry(entry, path=path, documented=documented, in_tree=in_tree)
    return entry
