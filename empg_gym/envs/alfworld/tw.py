"""``empg/ALFWorld-TW-v0``: ALFWorld on alfworld's own TextWorld engine (extra ``alfworld``).

Each episode loads one ``game.tw-pddl`` into ``textworld.gym`` with alfworld's ``AlfredDemangler`` and
``AlfredInfos`` wrappers, exactly as ``AlfredTWEnv`` does (``EnvInfos(won, admissible_commands, gamefile)``).
It plays the real games (``data_dir=`` / ``$ALFWORLD_DATA``) or, without data, our generated games exported to
``game.tw-pddl`` files under a cache folder (``$EMPG_CACHE`` or ``~/.cache/empg_gym``), so it is the reference
that :mod:`empg_gym.envs.alfworld.env` is checked against (``benchmarks/alfworld_fidelity.py``). It is slow
(seconds per reset, tens of milliseconds per step): use it for checks, ``empg/ALFWorld-v0`` for training.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from empg_gym._optional import require
from empg_gym.envs.alfworld.env import GameSet
from empg_gym.envs.alfworld.world import NOTHING_HAPPENS
from empg_gym.envs.base import InvalidAction, TextEnv, Transition

__all__ = ["ALFWorldTWEnv", "TWGame", "cache_root", "exported_game_file"]


def cache_root() -> str:
    """Where exported games go: ``$EMPG_CACHE/alfworld`` or ``~/.cache/empg_gym/alfworld``."""
    from empg_gym._cache import cache_root as root

    return str(root() / "alfworld")


def exported_game_file(games: GameSet, i: int, root: str | None = None) -> str:
    """The ``game.tw-pddl`` of game ``i`` of a generated set, exported on first use."""
    from empg_gym.envs.alfworld.export import export_game

    gid = games.ids[i]
    path = os.path.join(root or cache_root(), f"seed{games.seed}", *gid.split("/")[1:], "game.tw-pddl")
    if not os.path.isfile(path):
        export_game(games.game(i), path)
    return path


class TWGame:
    """One game on TextWorld's engine, with alfworld's wrappers (old gym API: ``step`` -> 4-tuple).

    Args:
        gamefile: A ``game.tw-pddl`` file.
        max_episode_steps: TextWorld's step limit (ALFWorld uses 50).
    """

    def __init__(self, gamefile: str, max_episode_steps: int = 1000) -> None:
        require("textworld", "alfworld", why="empg/ALFWorld-TW-v0")
        require("alfworld", "alfworld", why="empg/ALFWorld-TW-v0")
        import textworld
        import textworld.gym
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

        infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
        env_id = textworld.gym.register_game(
            gamefile, infos, max_episode_steps=max_episode_steps, wrappers=[AlfredDemangler, AlfredInfos]
        )
        self.env = textworld.gym.make(env_id)
        self.gamefile = gamefile

    def reset(self) -> tuple[str, list[str], bool]:
        """Start; returns (observation, admissible commands, won)."""
        obs, info = self.env.reset()
        return obs, list(info["admissible_commands"]), bool(info["won"])

    def step(self, command: str) -> tuple[str, list[str], bool]:
        """Play ``command``; returns (observation, admissible commands, won)."""
        obs, _, _, info = self.env.step(command)
        return obs, list(info["admissible_commands"]), bool(info["won"])

    def close(self) -> None:
        """Close the TextWorld env."""
        self.env.close()


class ALFWorldTWEnv(TextEnv):
    """ALFWorld on TextWorld's engine; same arguments and info keys as :class:`ALFWorldEnv`.

    The last :attr:`keep_loaded` games stay loaded, so resetting to a recent game is fast.

    Raises:
        gymnasium.error.DependencyNotInstalled: Without alfworld (``pip install "empg-gym[alfworld]"``).
    """

    def __init__(
        self,
        split: str = "valid_seen",
        data_dir: str | os.PathLike | None = None,
        source: str = "auto",
        seed: int = 0,
        num_games: int | None = None,
        task_types=None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        require("alfworld", "alfworld", why="empg/ALFWorld-TW-v0")
        require("textworld", "alfworld", why="empg/ALFWorld-TW-v0")
        super().__init__(render_mode=render_mode, **kwargs)
        self.games = GameSet(split, data_dir, source, seed, num_games, task_types)
        self.game: TWGame | None = None
        self._loaded: OrderedDict[str, TWGame] = OrderedDict()  # a few loaded games: reloading takes seconds
        self._adm: list[str] = []
        self.keep_loaded = 4
        self.task_type = ""
        self.gamefile = ""

    def data_provenance(self) -> dict[str, Any]:
        """Same games as :class:`~empg_gym.envs.alfworld.env.ALFWorldEnv`; the engine is recorded too."""
        prov = self.games.data_provenance()
        prov["params"]["engine"] = "textworld"
        return prov

    def _reset_task(self, options: dict[str, Any]) -> str:
        i = self._pick_index(options, self.games.ids)
        if self.games.source == "real":
            gamefile = self.games.files[i]
        else:
            gamefile = exported_game_file(self.games, i)
        self.game = self._loaded.pop(gamefile, None) or TWGame(gamefile)
        self._loaded[gamefile] = self.game
        while len(self._loaded) > self.keep_loaded:
            self._loaded.popitem(last=False)[1].close()
        obs, self._adm, _ = self.game.reset()
        g = self.games.game(i)
        self.task_type, self.task, self.task_id, self.gamefile = (
            g.task_type,
            g.goal_text,
            self.games.ids[i],
            gamefile,
        )
        return obs

    def _parse(self, action: str) -> Any:
        cmd = action.strip()
        if cmd not in self._adm:
            raise InvalidAction(NOTHING_HAPPENS)
        return cmd

    def _transition(self, parsed: Any) -> Transition:
        assert self.game is not None
        obs, self._adm, won = self.game.step(parsed)
        return Transition(
            observation=obs, reward=1.0 if won else 0.0, terminated=won, won=won, score=1.0 if won else 0.0
        )

    def _admissible_actions(self) -> list[str] | None:
        return list(self._adm)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        """One command; on the winning step ``info["admissible_actions"]`` is TextWorld's list."""
        was_done = self._done
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated and not was_done:
            info["admissible_actions"] = list(self._adm)
        return obs, reward, terminated, truncated, info

    def _info(self, *, action_valid: bool, **extra: Any) -> dict[str, Any]:
        info = super()._info(action_valid=action_valid, **extra)
        info.update(
            task_type=self.task_type,
            data_source=self.games.source,
            data_note=self.games.data_note,
            gamefile=self.gamefile,
            engine="textworld",
        )
        return info

    def close(self) -> None:
        """Close the loaded games."""
        for g in self._loaded.values():
            g.close()
        self._loaded.clear()
        self.game = None
