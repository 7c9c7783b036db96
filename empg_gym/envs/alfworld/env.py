"""``empg/ALFWorld-v0``: ALFWorld (Shridhar et al., 2021) played by a pure-Python simulator.

The simulator (:mod:`empg_gym.envs.alfworld.world`) reproduces alfworld 0.4.x's TextWorld engine with the
``alfred.pddl`` domain and ``alfred.twl2`` grammar: the same observations word for word, the same alphabetical
admissible commands (``help`` included), ``Nothing happens.`` for anything else, and ``won`` when the
PDDL goal
holds. It plays

- the **real** ALFWorld games (``game.tw-pddl``) when a data folder is given (``data_dir=`` or
  ``$ALFWORLD_DATA``, laid out like ``alfworld-download``'s ``json_2.1.1/<split>/...``), or
- **generated** games (:mod:`empg_gym.envs.alfworld.generate`) otherwise; ``info["data_source"]`` says which.

Reward: 1.0 on the step that wins (ALFWorld's ``score``; verl-agent scales it by 10 in training), else 0.
``info["task_type"]`` names the task's type (one of ALFWorld's six), ``info["gamefile"]`` the game.
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from typing import Any

from empg_gym.envs.alfworld.expert import TaskParams, expert_action, task_params
from empg_gym.envs.alfworld.pddl import TASK_TYPES, Game, load_game
from empg_gym.envs.alfworld.world import NOTHING_HAPPENS, World
from empg_gym.envs.base import InvalidAction, TextEnv, Transition
from empg_gym.envs.provenance import check_choice, check_int, provenance

__all__ = ["DATA_ENV_VAR", "SPLITS", "ALFWorldEnv", "GameSet", "resolve_data_dir"]

DATA_ENV_VAR = "ALFWORLD_DATA"
#: split name -> (real folder under json_2.1.1, real game list file)
SPLITS = {
    "valid_seen": ("valid_seen", "valid_seen_games.txt"),
    "valid_unseen": ("valid_unseen", "valid_unseen_games.txt"),
    "valid_train": ("valid_train", "valid_train_games.txt"),
    "train": ("train", None),
}
#: ALFWorld's names for the eval splits
SPLIT_ALIASES = {"eval_in_distribution": "valid_seen", "eval_out_of_distribution": "valid_unseen"}


def resolve_data_dir(data_dir: str | os.PathLike | None) -> str | None:
    """The ALFWorld data folder: ``data_dir``, else ``$ALFWORLD_DATA``, else None."""
    d = data_dir if data_dir is not None else os.environ.get(DATA_ENV_VAR)
    return os.fspath(d) if d else None


def real_game_files(data_dir: str, split: str) -> list[str]:
    """The real ``game.tw-pddl`` files of ``split`` under ``data_dir`` (sorted, like ALFWorld's walk)."""
    folder, listing = SPLITS[split]
    if listing and os.path.isfile(os.path.join(data_dir, listing)):
        with open(os.path.join(data_dir, listing), encoding="utf-8") as fh:
            files = [os.path.join(data_dir, line.strip()) for line in fh if line.strip()]
        return sorted(f for f in files if os.path.isfile(f))
    root = os.path.join(data_dir, "json_2.1.1", folder)
    out = []
    for dirpath, _, names in os.walk(root):
        if "game.tw-pddl" in names and "movable" not in dirpath and "Sliced" not in dirpath:
            out.append(os.path.join(dirpath, "game.tw-pddl"))
    return sorted(out)


class GameSet:
    """The games of one split: real files or generated games, loaded lazily and memoised (LRU).

    Args:
        split: ``valid_seen``, ``valid_unseen``, ``train`` (or ``valid_train``, real data only).
        data_dir: Real data folder (default ``$ALFWORLD_DATA``).
        source: ``"auto"`` (real iff the data folder has games for the split), ``"real"`` or ``"generated"``.
        seed: Generator seed (generated games).
        num_games: Use only the first N games.
        task_types: Keep only these task types (names or ALFWorld's numbers 1-6).
    """

    def __init__(
        self,
        split: str = "valid_seen",
        data_dir: str | os.PathLike | None = None,
        source: str = "auto",
        seed: int = 0,
        num_games: int | None = None,
        task_types=None,
        cache_size: int = 64,
    ) -> None:
        split = SPLIT_ALIASES.get(split, split)
        if split not in SPLITS:
            raise ValueError(
                f"unknown split {split!r}; expected one of {sorted(SPLITS)} or {sorted(SPLIT_ALIASES)}"
            )
        if source not in ("auto", "real", "generated"):
            raise ValueError(f"source must be 'auto', 'real' or 'generated', got {source!r}")
        check_int("seed", seed, -(2**63), 2**63 - 1)
        check_int("num_games", num_games, 1, none_ok=True)
        check_int("cache_size", cache_size, 1, 100_000)
        self.split, self.seed = split, seed
        self.num_games, self.task_types = num_games, sorted({str(t) for t in task_types or ()}) or None
        folder = resolve_data_dir(data_dir)
        where = f"data_dir={folder}" if data_dir is not None else f"${DATA_ENV_VAR}={folder}"
        #: Why generated games are played although a data folder was given (None otherwise).
        self.data_note: str | None = None
        files: list[str] = []
        if source == "real" and not folder:
            raise FileNotFoundError(
                f"source='real' needs the ALFWorld data folder: set data_dir= or ${DATA_ENV_VAR} to a folder "
                f"holding json_2.1.1/{SPLITS[split][0]}/.../game.tw-pddl (alfworld-download's layout)"
            )
        if folder and source != "generated":
            if not os.path.isdir(folder):
                raise FileNotFoundError(
                    f"ALFWorld data folder {folder} ({where}) does not exist. Point it at a folder holding "
                    f"json_2.1.1/<split>/.../game.tw-pddl, or pass source='generated' for generated games."
                )
            files = real_game_files(folder, split)
            if not files:
                has_eval = any(real_game_files(folder, s) for s in ("valid_seen", "valid_unseen"))
                if split == "train" and source == "auto" and has_eval:
                    self.data_note = (
                        f"{where} has no real train games (json_2.1.1/train is empty or absent), so "
                        "split='train' plays GENERATED games; the eval splits play the real games"
                    )
                    warnings.warn(
                        f"ALFWorld: {self.data_note}. Pass source='generated' to silence this, or add the "
                        "train games to the data folder.",
                        UserWarning,
                        stacklevel=3,
                    )
                else:
                    raise FileNotFoundError(
                        f"no real ALFWorld games for split {split!r} in {folder} ({where}): expected "
                        f"json_2.1.1/{SPLITS[split][0]}/.../game.tw-pddl (alfworld-download's layout) or "
                        f"{SPLITS[split][1] or 'a game list'}. Fix the path (data_dir= or "
                        f"${DATA_ENV_VAR}), or pass source='generated' for generated games."
                    )
        self.source = "real" if files else "generated"
        self.data_dir: str | None
        if self.source == "real":
            assert folder is not None  # real games were found in it
            self.data_dir = folder
            self.files = files
            self.ids = [
                os.path.relpath(os.path.dirname(f), os.path.join(folder, "json_2.1.1")) for f in files
            ]
        else:
            from empg_gym.envs.alfworld.generate import SPLIT_SIZES, game_ids

            if split not in SPLIT_SIZES:
                raise ValueError(
                    f"split {split!r} exists only in the real data; set data_dir= or ${DATA_ENV_VAR}"
                )
            self.data_dir = None
            self.files = []
            self.ids = game_ids(split)
        if task_types:
            wanted = {TASK_TYPES[t - 1] if isinstance(t, int) else str(t) for t in task_types}
            bad = wanted - set(TASK_TYPES)
            if bad:
                raise ValueError(f"unknown task types {sorted(bad)}; expected names from {TASK_TYPES} or 1-6")
            keep = [i for i, tid in enumerate(self.ids) if self._type_of(i) in wanted]
            self.ids = [self.ids[i] for i in keep]
            self.files = [self.files[i] for i in keep] if self.files else []
        if num_games is not None:
            self.ids = self.ids[: int(num_games)]
            self.files = self.files[: int(num_games)] if self.files else []
        if not self.ids:
            raise ValueError(
                f"no ALFWorld games left for split {split!r} with task_types={task_types!r}, "
                f"num_games={num_games!r}"
            )
        self._cache: OrderedDict[int, Game] = OrderedDict()
        self._cache_size = cache_size

    def data_provenance(self) -> dict[str, Any]:
        """Provenance (:mod:`empg_gym.envs.provenance`): real games' hashes, or the generator's parameters."""
        params: dict[str, Any] = {
            "split": self.split,
            "num_games": len(self.ids),
            "task_types": self.task_types,
        }
        if self.source == "real":
            assert self.data_dir is not None
            root = os.path.join(self.data_dir, "json_2.1.1")
            files = {os.path.relpath(f, root): f for f in self.files}
            return provenance("real", "alfworld", files, params)
        params["seed"] = self.seed
        if self.data_note:
            params["data_note"] = self.data_note
        return provenance("generated", "alfworld-generated", params=params)

    def _type_of(self, i: int) -> str:
        if self.source == "real":
            from empg_gym.envs.alfworld.pddl import task_type_of_path

            return task_type_of_path(self.files[i])
        from empg_gym.envs.alfworld.generate import generated_task_type

        return generated_task_type(self.split, int(self.ids[i].rsplit("/", 1)[1]), self.seed)

    def __len__(self) -> int:
        return len(self.ids)

    def game(self, i: int) -> Game:
        """Game ``i`` (parsed or generated on first use)."""
        g = self._cache.get(i)
        if g is not None:
            self._cache.move_to_end(i)
            return g
        if self.source == "real":
            g = load_game(self.files[i])
        else:
            from empg_gym.envs.alfworld.generate import generate_game

            g = generate_game(self.split, int(self.ids[i].rsplit("/", 1)[1]), self.seed)
        self._cache[i] = g
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return g


class ALFWorldEnv(TextEnv):
    """ALFWorld's text game; see the module docstring.

    Args:
        split: ``valid_seen`` (default; ALFWorld's ``eval_in_distribution``), ``valid_unseen``
            (``eval_out_of_distribution``), ``train``, or ``valid_train`` (real data only).
        data_dir: Real data folder (default ``$ALFWORLD_DATA``); without one, generated games are played.
        source: ``"auto"``, ``"real"`` or ``"generated"``.
        seed: Seed of the game generator (fixed per env; episodes are picked by ``reset``'s seed).
        num_games: Use only the first N games of the split.
        task_types: Keep only these task types (names or 1-6).
        expert: What :meth:`expert_action` plays: ``"oracle"`` (knows where every object is) or ``"search"``
            (knows only what the agent has been shown, and searches; :mod:`empg_gym.envs.alfworld.expert`).
        render_mode: ``"ansi"`` or ``"human"``.

    >>> env = ALFWorldEnv(source="generated")
    >>> obs, info = env.reset(seed=0, options={"task_index": 0})
    >>> obs.startswith("-= Welcome to TextWorld, ALFRED! =-")
    True
    """

    def __init__(
        self,
        split: str = "valid_seen",
        data_dir: str | os.PathLike | None = None,
        source: str = "auto",
        seed: int = 0,
        num_games: int | None = None,
        task_types=None,
        expert: str = "oracle",
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(render_mode=render_mode, **kwargs)
        check_choice("expert", expert, ("oracle", "search"))
        self.expert = expert
        self.seen: set[str] = set()  # receptacles whose contents the agent has been shown
        self.games = GameSet(split, data_dir, source, seed, num_games, task_types)
        self.world: World | None = None
        self._worlds: OrderedDict[int, World] = OrderedDict()
        self.params: TaskParams | None = None
        self.task_type = ""
        self.gamefile = ""

    def data_provenance(self) -> dict[str, Any]:
        """What the episodes come from: the real games' hashes, or the generator's parameters."""
        return self.games.data_provenance()

    @property
    def data_source(self) -> str:
        """``"real"`` or ``"generated"``."""
        return self.games.source

    def _reset_task(self, options: dict[str, Any]) -> str:
        i = self._pick_index(options, self.games.ids)
        game = self.games.game(i)
        world = self._worlds.pop(i, None) or World(game)
        world.reset()
        self._worlds[i] = world  # most recent last; a few are kept so re-playing a game skips the setup
        while len(self._worlds) > 16:
            self._worlds.popitem(last=False)
        self.world = world
        self.params = None
        self.seen = set()
        self.task_type = game.task_type
        self.task_id = self.games.ids[i]
        self.gamefile = game.path
        self.task = game.goal_text
        return self.world.intro()

    def _parse(self, action: str) -> Any:
        assert self.world is not None
        cmd = self.world.commands().get(action.strip())
        if cmd is None:
            raise InvalidAction(NOTHING_HAPPENS)
        return action.strip()

    def _transition(self, parsed: Any) -> Transition:
        assert self.world is not None
        act = self.world.commands()[parsed]
        obs, _ = self.world.step(parsed)
        if act[0] in ("goto", "open", "examine_r") and self.world._accessible(act[1]):
            self.seen.add(act[1])
        won = self.world.won()
        return Transition(
            observation=obs, reward=1.0 if won else 0.0, terminated=won, won=won, score=1.0 if won else 0.0
        )

    def _admissible_actions(self) -> list[str] | None:
        return self.world.admissible() if self.world is not None else None

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        """One command; on the winning step ``info["admissible_actions"]`` is the list (as TextWorld)."""
        was_done = self._done
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated and not was_done and self.world is not None:
            info["admissible_actions"] = self.world.admissible()
        return obs, reward, terminated, truncated, info

    def _info(self, *, action_valid: bool, **extra: Any) -> dict[str, Any]:
        info = super()._info(action_valid=action_valid, **extra)
        info["task_type"] = self.task_type
        info["data_source"] = self.games.source
        info["data_note"] = self.games.data_note
        info["gamefile"] = self.gamefile
        return info

    def expert_action(self) -> str:
        """The scripted expert's next command (:mod:`empg_gym.envs.alfworld.expert`)."""
        assert self.world is not None, "call reset() first"
        if self.params is None:
            self.params = task_params(self.world.game.problem.goal)
        try:
            return expert_action(self.world, self.params, self.seen if self.expert == "search" else None)
        except (RuntimeError, IndexError, ValueError, StopIteration):
            return "look"  # no plan from here (e.g. the goal already holds): a harmless valid command
