"""The fixed, documented task lists every agent is evaluated on (so results are paired across agents).

A task list belongs to an env and a split: constructor kwargs for ``gym.make`` plus the reset options of each
task (``{"task_index": i}``). Every agent on the leaderboard plays exactly these tasks, once per evaluation
seed. The lists (also in ``leaderboard/README.md``):

====================== ============ ================================================= ==================
env                    split        env kwargs                                        tasks
====================== ============ ================================================= ==================
empg/KeyDoor-v0        test         (defaults: 3x3 grid, 200 layouts)                 task_index 100-199
empg/KeyDoor-v0        train        (defaults)                                        task_index 0-99
empg/GuessNumber-v0    test         (defaults: n = 16)                                task_index 0-15
empg/WebShop-v0        test         ``split="test"`` (generated 1k catalog unless     task_index 0-99
                                    ``$WEBSHOP_DATA`` points at the real data)
empg/ALFWorld-v0       test         ``split="valid_unseen"`` (ALFWorld's              task_index 0-49
                                    eval_out_of_distribution games)
empg/ALFWorld-v0       valid        ``split="valid_seen"``                            task_index 0-49
empg/ALFWorld-v0       valid_unseen ``split="valid_unseen"`` (the whole list)         task_index 0-133
empg/ALFWorld-v0       valid_seen   ``split="valid_seen"`` (the whole list)           task_index 0-139
empg/DeepSearch-v0     test         ``split="test"``                                  task_index 0-99
====================== ============ ================================================= ==================

The **task-list hash** (in every entry) is the first 16 hex digits of the SHA-256 of the canonical JSON of
``{"env": id, "split": split, "env_kwargs": kwargs, "tasks": [[options, task_id], ...], "data": provenance}``,
where ``task_id`` is the id the env reported for each task and ``provenance`` is the env's **data
provenance** (:func:`data_provenance`). Two entries with the same hash played the same tasks on the same
data; the hash changes when the list changes *and* when the data behind the env changes (the real WebShop
catalog instead of the generated one, other ALFWorld games, another corpus), however that data was chosen
(a constructor kwarg or an environment variable such as ``WEBSHOP_DATA``). :func:`task_list_hash` computes it.

Data provenance is a JSON object ``{"kind": "real" | "generated" | "builtin", "source": <short name>,
"files": {<relative name>: "sha256:<hex>"}, "params": {...}}``: the data files with their content hashes, or
the generator's parameters. It comes from the env's own ``data_provenance()`` method; an env without one
(a third-party env, or an older build) gets :func:`fallback_provenance`: its resolved constructor kwargs plus
the values of the environment variables known to select its data (:data:`DATA_ENV_VARS`). The fallback
records *which* data was asked for, not its content, so it is marked ``"fallback": true`` in ``params``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DATA_ENV_VARS", "DATA_KINDS", "TASK_LISTS", "ProvenanceError", "TaskList", "check_provenance",
           "data_provenance", "describe_data", "fallback_provenance", "get_task_list", "task_list_hash"]

#: The kinds of data an env can be built on.
DATA_KINDS = ("real", "generated", "builtin")

#: Environment variables that select an env's data (recorded by :func:`fallback_provenance`).
DATA_ENV_VARS: dict[str, tuple[str, ...]] = {
    "empg/WebShop-v0": ("WEBSHOP_DATA", "EMPG_WEBSHOP_FUZZ"),
    "empg/ALFWorld-v0": ("ALFWORLD_DATA",),
    "empg/ALFWorld-TW-v0": ("ALFWORLD_DATA",),
    "empg/DeepSearch-v0": ("EMPG_DEEPSEARCH_QUESTIONS", "EMPG_DEEPSEARCH_CORPUS"),
}

_FILE_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class TaskList:
    """A documented task list.

    Attributes:
        env_id: Gymnasium ID.
        split: Split name used on the leaderboard.
        env_kwargs: Constructor kwargs for ``gym.make``.
        start: First ``task_index``.
        n: Number of tasks.
        note: One line for the docs.
    """

    env_id: str
    split: str
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    start: int = 0
    n: int = 100
    note: str = ""

    @property
    def name(self) -> str:
        """``<env id>:<split>``."""
        return f"{self.env_id}:{self.split}"

    def options(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Reset options of the tasks (the first ``limit`` only, when given)."""
        n = self.n if limit is None else min(int(limit), self.n)
        return [{"task_index": self.start + i} for i in range(n)]


#: (env id, split) -> task list.
TASK_LISTS: dict[tuple[str, str], TaskList] = {
    (t.env_id, t.split): t
    for t in (
        TaskList("empg/KeyDoor-v0", "test", {}, 100, 100, "3x3 grid; layouts 100-199"),
        TaskList("empg/KeyDoor-v0", "train", {}, 0, 100, "3x3 grid; layouts 0-99"),
        TaskList("empg/GuessNumber-v0", "test", {}, 0, 16, "all 16 hidden numbers"),
        TaskList("empg/WebShop-v0", "test", {"split": "test"}, 0, 100, "the first 100 test goals"),
        TaskList("empg/ALFWorld-v0", "test", {"split": "valid_unseen"}, 0, 50,
                 "the first 50 eval_out_of_distribution games"),
        TaskList("empg/ALFWorld-v0", "valid", {"split": "valid_seen"}, 0, 50,
                 "the first 50 eval_in_distribution games"),
        # The whole eval lists, as ALFWorld results are reported. The games are sorted by task type, so
        # the first-50 lists above hold only 3 of the 6 types (look, pick, clean; valid_seen: pick, look,
        # pick-two); these hold all six.
        TaskList("empg/ALFWorld-v0", "valid_unseen", {"split": "valid_unseen"}, 0, 134,
                 "all 134 eval_out_of_distribution games"),
        TaskList("empg/ALFWorld-v0", "valid_seen", {"split": "valid_seen"}, 0, 140,
                 "all 140 eval_in_distribution games"),
        TaskList("empg/DeepSearch-v0", "test", {"split": "test"}, 0, 100, "the first 100 test questions"),
    )
}


def get_task_list(env_id: str, split: str) -> TaskList:
    """The documented task list of ``env_id`` and ``split``.

    Raises:
        KeyError: Naming the lists that exist.
    """
    try:
        return TASK_LISTS[(env_id, split)]
    except KeyError:
        import difflib

        known = ", ".join(f"{e}:{s}" for e, s in TASK_LISTS)
        envs = sorted({e for e, _ in TASK_LISTS})
        close = difflib.get_close_matches(env_id, envs, n=1, cutoff=0.6) if env_id not in envs else []
        hint = f"did you mean {close[0]}? " if close else ""
        raise KeyError(f"no documented task list for {env_id} split {split!r}; {hint}known: {known} "
                       "(add one in empg_gym/eval/tasks.py and leaderboard/README.md)") from None


class ProvenanceError(ValueError):
    """An env's data provenance is malformed (not the documented shape, or not JSON)."""


def check_provenance(prov: Any, where: str = "data provenance") -> list[str]:
    """Problems with a data-provenance object (empty when it has the documented shape).

    >>> check_provenance({"kind": "builtin", "source": "toy", "files": {}, "params": {}})
    []
    >>> check_provenance({"kind": "made up", "source": "", "files": {"a": "md5:0"}, "params": []})[0]
    "data provenance/kind: 'made up' is not one of real, generated, builtin"
    """
    if not isinstance(prov, Mapping):
        return [f"{where}: expected an object, got {type(prov).__name__}"]
    out = []
    if prov.get("kind") not in DATA_KINDS:
        out.append(f"{where}/kind: {prov.get('kind')!r} is not one of {', '.join(DATA_KINDS)}")
    if not isinstance(prov.get("source"), str) or not prov.get("source"):
        out.append(f"{where}/source: expected a non-empty string, got {prov.get('source')!r}")
    files = prov.get("files")
    if not isinstance(files, Mapping):
        out.append(f"{where}/files: expected an object (relative name -> 'sha256:<hex>'), got {files!r}")
    else:
        for name, h in files.items():
            if not isinstance(h, str) or not _FILE_HASH.match(h):
                out.append(f"{where}/files/{name}: expected 'sha256:<64 hex digits>', got {h!r}")
    if not isinstance(prov.get("params"), Mapping):
        out.append(f"{where}/params: expected an object, got {prov.get('params')!r}")
    extra = sorted(set(prov) - {"kind", "source", "files", "params"})
    if extra:
        out.append(f"{where}: unknown keys {extra} (allowed: kind, source, files, params)")
    if not out:
        try:
            json.dumps(prov, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            out.append(f"{where}: not JSON-serialisable ({e})")
    return out


def fallback_provenance(env_id: str, env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Provenance of an env without ``data_provenance()``: its kwargs and data-selecting env vars.

    Toy envs (no env var selects their data) are ``builtin``; others are ``real`` when a data kwarg or env
    var is set, else ``generated``.

    >>> fallback_provenance("empg/GuessNumber-v0", {"n": 16})["kind"]
    'builtin'
    """
    names = DATA_ENV_VARS.get(env_id, ())
    env_vars = {k: os.environ[k] for k in names if os.environ.get(k)}
    data_kwargs = {k: v for k, v in env_kwargs.items()
                   if k in ("data_dir", "questions", "corpus") and v not in (None, "")}
    if not names:
        kind = "builtin"
    else:
        chooses_real = [k for k in env_vars if k != "EMPG_WEBSHOP_FUZZ"] or data_kwargs
        kind = "real" if chooses_real else "generated"
    return {"kind": kind, "source": env_id.split("/")[-1].rsplit("-v", 1)[0].lower(), "files": {},
            "params": {"fallback": True, "env_kwargs": _jsonable(dict(env_kwargs)), "env_vars": env_vars}}


def _jsonable(obj: Any) -> Any:
    """``obj`` made JSON-safe (unknown objects become their ``repr``), for canonical hashing."""
    return json.loads(json.dumps(obj, sort_keys=True, default=repr))


def data_provenance(env: Any, env_id: str | None = None) -> dict[str, Any]:
    """The data provenance of a built env: its ``data_provenance()``, or :func:`fallback_provenance`.

    Args:
        env: A ``gym.make`` result (wrappers are looked through) or an unwrapped env.
        env_id: The env ID (default: ``env.spec.id``).

    Raises:
        ProvenanceError: The env's ``data_provenance()`` returned something that is not the documented shape.
    """
    base = getattr(env, "unwrapped", env)
    spec = getattr(env, "spec", None) or getattr(base, "spec", None)
    env_id = env_id or (spec.id if spec is not None else type(base).__name__)
    fn = getattr(base, "data_provenance", None)
    if not callable(fn):
        kwargs = dict(spec.kwargs) if spec is not None else {}
        return fallback_provenance(env_id, kwargs)
    prov = fn()
    problems = check_provenance(prov, f"{env_id} data_provenance()")
    if problems:
        raise ProvenanceError("; ".join(problems))
    return _jsonable(dict(prov))


def describe_data(prov: Mapping[str, Any] | None) -> str:
    """One short line naming the data of a provenance (for table headings and messages).

    >>> describe_data({"kind": "generated", "source": "webshop-gen", "files": {}, "params": {"n": 1000}})
    'generated data webshop-gen (n=1000)'
    """
    if not prov:
        return "unrecorded data (schema 1 entry)"
    params = {k: v for k, v in dict(prov.get("params", {})).items() if k not in ("fallback", "env_kwargs")}
    bits = [f"{k}={v}" for k, v in sorted(params.items())
            if isinstance(v, (str, int, float, bool)) and v != ""]
    if prov.get("files"):
        digest = hashlib.sha256(json.dumps(prov["files"], sort_keys=True).encode()).hexdigest()[:8]
        bits.insert(0, f"{len(prov['files'])} files, sha256 {digest}")
    if isinstance(params.get("env_vars"), Mapping):
        bits += [f"${k}={v}" for k, v in sorted(params["env_vars"].items())]
    head = f"{prov.get('kind', '?')} data {prov.get('source', '?')}"
    return head + (f" ({', '.join(bits)})" if bits else "")


def task_list_hash(env_id: str, split: str, env_kwargs: Mapping[str, Any],
                   options: Sequence[Mapping[str, Any]], task_ids: Sequence[str],
                   data: Mapping[str, Any] | None = None) -> str:
    """The task-list hash (see the module docstring); ``data`` is the data provenance.

    ``data=None`` gives the hash of schema-1 entries, which did not record their data.

    >>> task_list_hash("empg/GuessNumber-v0", "test", {}, [{"task_index": 0}], ["guess16-1"])
    '099a064ba3c4420d'
    """
    if len(options) != len(task_ids):
        raise ValueError(f"{len(options)} task options but {len(task_ids)} task ids")
    payload: dict[str, Any] = {"env": env_id, "split": split, "env_kwargs": dict(env_kwargs),
                               "tasks": [[dict(o), str(t)] for o, t in zip(options, task_ids, strict=True)]}
    if data is not None:
        payload["data"] = dict(data)
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
