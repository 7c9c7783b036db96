"""Every ``empg/*`` environment registration, with string entry points (nothing heavy is imported).

After ``import empg_gym``, ``gym.make("empg/<Name>-v0")`` works; without the import,
``gym.make("empg_gym:empg/<Name>-v0")`` imports this module first. Bump ``-vN`` when an env's reward,
observation or dynamics change, and keep the old ID registered.

:data:`DATA_STATUS` maps each env ID to a function telling whether its data is available, for
``empg-gym envs``.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym

from empg_gym.envs.base import InvalidAction, TextEnv, Transition

__all__ = ["DATA_STATUS", "ENV_IDS", "InvalidAction", "TextEnv", "Transition"]

#: env id -> callable returning a one-line data status.
DATA_STATUS: dict[str, Callable[[], str]] = {}


def _register(id: str, entry_point: str, *, max_episode_steps: int, status: Callable[[], str] | None = None,
              **kwargs) -> None:
    if id in gym.registry:  # re-import (e.g. importlib.reload) must not warn
        return
    gym.register(id=id, entry_point=entry_point, max_episode_steps=max_episode_steps, **kwargs)
    DATA_STATUS[id] = status or (lambda: "built in (no data needed)")


# --- toy envs --------------------------------------------------------------------------------------
_register("empg/GuessNumber-v0", "empg_gym.envs.toy.guess_number:GuessNumberEnv", max_episode_steps=8)
_register("empg/KeyDoor-v0", "empg_gym.envs.toy.key_door:KeyDoorEnv", max_episode_steps=20)

# --- WebShop (generated catalog by default; real data via data_dir= or $WEBSHOP_DATA) ------------------
_register("empg/WebShop-v0", "empg_gym.envs.webshop.env:WebShopEnv", max_episode_steps=15,
          kwargs={"split": "test"},
          status=lambda: __import__("empg_gym.envs.webshop", fromlist=["data_status"]).data_status())

# --- ALFWorld (real games via data_dir= or $ALFWORLD_DATA; generated games otherwise) -------------------
_register("empg/ALFWorld-v0", "empg_gym.envs.alfworld.env:ALFWorldEnv", max_episode_steps=50,
          status=lambda: __import__("empg_gym.envs.alfworld", fromlist=["data_status"]).data_status())
_register("empg/ALFWorld-TW-v0", "empg_gym.envs.alfworld.tw:ALFWorldTWEnv", max_episode_steps=50,
          status=lambda: __import__("empg_gym.envs.alfworld", fromlist=["tw_data_status"]).tw_data_status())

# --- DeepSearch (Search-R1 protocol; generated multi-hop world, or real data via questions=/corpus=) ------
# The env enforces its own turn limit (max_turns + 1 steps, invalid actions included); 64 is a safety cap.
_register("empg/DeepSearch-v0", "empg_gym.envs.deepsearch.env:DeepSearchEnv", max_episode_steps=64,
          status=lambda: __import__("empg_gym.envs.deepsearch", fromlist=["data_status"]).data_status())

ENV_IDS: tuple[str, ...] = tuple(DATA_STATUS)
