"""The fixed, documented task lists every agent is evaluated on (so results are paired across agents).

A task list belongs to an env and a split: constructor kwargs for ``gym.make`` plus the reset options of each
task (``{"task_index": i}``). Every agent on the leaderboard plays exactly these tasks, once per evaluation
seed. The lists (also in ``leaderboard/README.md``):

====================== ======= ================================================= ================
env                    split   env kwargs                                        tasks
====================== ======= ================================================= ================
empg/KeyDoor-v0        test    (defaults: 3x3 grid, 200 layouts)                 task_index 100-199
empg/KeyDoor-v0        train   (defaults)                                        task_index 0-99
empg/GuessNumber-v0    test    (defaults: n = 16)                                task_index 0-15
empg/WebShop-v0        test    ``split="test"`` (generated 1k catalog unless     task_index 0-99
                               ``$WEBSHOP_DATA`` points at the real data)
empg/ALFWorld-v0       test    ``split="valid_unseen"`` (ALFWorld's              task_index 0-49
                               eval_out_of_distribution games)
empg/ALFWorld-v0       valid   ``split="valid_seen"``                            task_index 0-49
empg/DeepSearch-v0     test    ``split="test"``                                  task_index 0-99
====================== ======= ================================================= ================

The **task-list hash** (in every entry) is the first 16 hex digits of the SHA-256 of the canonical JSON of
``{"env": id, "split": split, "env_kwargs": kwargs, "tasks": [[options, task_id], ...]}``, where ``task_id``
is the id the env reported for each task. It therefore changes when the list changes *and* when the data
behind the env changes (another catalog, other games), and two entries with the same hash played the same
tasks. :func:`task_list_hash` computes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TASK_LISTS", "TaskList", "get_task_list", "task_list_hash"]


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
        known = ", ".join(f"{e}:{s}" for e, s in TASK_LISTS)
        raise KeyError(f"no documented task list for {env_id} split {split!r}; known: {known} "
                       "(add one in empg_gym/eval/tasks.py and leaderboard/README.md)") from None


def task_list_hash(env_id: str, split: str, env_kwargs: Mapping[str, Any],
                   options: Sequence[Mapping[str, Any]], task_ids: Sequence[str]) -> str:
    """The task-list hash (see the module docstring).

    >>> task_list_hash("empg/GuessNumber-v0", "test", {}, [{"task_index": 0}], ["guess16-1"])
    '099a064ba3c4420d'
    """
    if len(options) != len(task_ids):
        raise ValueError(f"{len(options)} task options but {len(task_ids)} task ids")
    payload = {"env": env_id, "split": split, "env_kwargs": dict(env_kwargs),
               "tasks": [[dict(o), str(t)] for o, t in zip(options, task_ids, strict=True)]}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
