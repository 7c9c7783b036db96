"""KeyDoor: walk a grid of rooms, take the key, open the locked door.

A toy multi-turn env for tests and trainer smoke runs, with the shape of a household task: navigate,
pick something up, use it somewhere else. The layout of task ``i`` (start room, key room, door room)
is a pure function of ``i``; which task an episode plays comes from ``self.np_random``.

Actions: ``go north|south|east|west`` (where an exit exists), ``take key`` (where the key is),
``open door`` (where the door is; it opens only with the key). Reward 1 when the door opens, else 0.
The optimal policy walks a shortest path to the key, then to the door; the scripted expert does that.
On the default 3x3 grid an optimal episode takes 3 to 10 steps; ``max_episode_steps`` is 20.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from empg_gym.envs.base import InvalidAction, TextEnv, Transition
from empg_gym.envs.provenance import check_int, provenance

_COLOURS = (
    "red",
    "blue",
    "green",
    "yellow",
    "white",
    "black",
    "purple",
    "orange",
    "grey",
    "brown",
    "pink",
    "gold",
    "silver",
    "teal",
    "olive",
    "navy",
)
_MOVES = {"north": (-1, 0), "south": (1, 0), "west": (0, -1), "east": (0, 1)}


class KeyDoorEnv(TextEnv):
    """Take the key and open the door in a ``size x size`` grid of rooms.

    Args:
        size: Grid side (2 to 4).
        num_tasks: Number of distinct layouts.
        render_mode: ``"ansi"`` or ``"human"``.

    >>> env = KeyDoorEnv()
    >>> obs, info = env.reset(seed=0, options={"task_index": 0})
    >>> while not info["won"]:
    ...     obs, reward, terminated, truncated, info = env.step(env.expert_action())
    >>> reward, terminated
    (1.0, True)
    """

    #: Largest ``num_tasks`` (layouts repeat long before: a 4x4 grid has 3,360 start/key/door layouts).
    MAX_TASKS = 100_000

    def __init__(self, size: int = 3, num_tasks: int = 200, render_mode: str | None = None) -> None:
        size = check_int("size", size, 2, 4)
        num_tasks = check_int("num_tasks", num_tasks, 1, self.MAX_TASKS)
        super().__init__(render_mode=render_mode)
        self.size = size
        self._ids = tuple(f"keydoor{size}-{i}" for i in range(num_tasks))
        self._pos = self._key = self._door = (0, 0)
        self._has_key = False

    def data_provenance(self) -> dict[str, Any]:
        """Built-in tasks: layouts are a function of ``size`` and the task index."""
        return provenance("builtin", "KeyDoor", params={"size": self.size, "num_tasks": len(self._ids)})

    # layout -----------------------------------------------------------------
    def _layout(self, i: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        rng = np.random.default_rng([self.size, i])
        cells = [(r, c) for r in range(self.size) for c in range(self.size)]
        start, key, door = (cells[j] for j in rng.choice(len(cells), size=3, replace=False))
        return start, key, door

    def _name(self, cell: tuple[int, int]) -> str:
        return f"{_COLOURS[cell[0] * self.size + cell[1]]} room"

    def _describe(self) -> str:
        exits = [d for d, (dr, dc) in _MOVES.items() if self._inside(self._pos[0] + dr, self._pos[1] + dc)]
        parts = [f"You are in the {self._name(self._pos)}. Exits: {', '.join(exits)}."]
        if self._pos == self._key and not self._has_key:
            parts.append("You see a key on the floor.")
        if self._pos == self._door:
            parts.append("You see a locked door.")
        if self._has_key:
            parts.append("You are carrying the key.")
        return " ".join(parts)

    def _inside(self, r: int, c: int) -> bool:
        return 0 <= r < self.size and 0 <= c < self.size

    # contract ---------------------------------------------------------------
    def _reset_task(self, options: dict[str, Any]) -> str:
        i = self._pick_index(options, self._ids)
        self._pos, self._key, self._door = self._layout(i)
        self._has_key = False
        self.task_id = self._ids[i]
        self.task = f"Find the key and open the locked door in the {self._name(self._door)}."
        return f"Your task is to: {self.task}\n{self._describe()}"

    def _parse(self, action: str) -> str:
        a = " ".join(action.lower().split())
        if a not in self._admissible_actions():
            raise InvalidAction(
                "Nothing happens. Valid actions here: " + ", ".join(self._admissible_actions()) + "."
            )
        return a

    def _transition(self, a: str) -> Transition:
        if a.startswith("go "):
            dr, dc = _MOVES[a[3:]]
            self._pos = (self._pos[0] + dr, self._pos[1] + dc)
            return Transition(self._describe())
        if a == "take key":
            self._has_key = True
            return Transition("You pick up the key. " + self._describe())
        # open door
        if not self._has_key:
            return Transition("The door is locked. You need a key. " + self._describe())
        return Transition("You unlock the door with the key and open it. You win!", 1.0, True, True, 1.0)

    def _admissible_actions(self) -> list[str]:
        acts = [
            f"go {d}" for d, (dr, dc) in _MOVES.items() if self._inside(self._pos[0] + dr, self._pos[1] + dc)
        ]
        if self._pos == self._key and not self._has_key:
            acts.append("take key")
        if self._pos == self._door:
            acts.append("open door")
        return sorted(acts)

    def expert_action(self) -> str:
        """Shortest path to the key, then to the door (Manhattan moves; the grid has no walls)."""
        if not self._has_key and self._pos == self._key:
            return "take key"
        target = self._door if self._has_key else self._key
        if self._pos == target:
            return "open door"
        dr, dc = target[0] - self._pos[0], target[1] - self._pos[1]
        if dr:
            return "go south" if dr > 0 else "go north"
        return "go east" if dc > 0 else "go west"
