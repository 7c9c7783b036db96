"""Tiny deterministic text envs (GuessNumber, KeyDoor) for tests, CI and trainer smoke runs."""

from __future__ import annotations

from empg_gym.envs.toy.guess_number import GuessNumberEnv
from empg_gym.envs.toy.key_door import KeyDoorEnv

__all__ = ["GuessNumberEnv", "KeyDoorEnv"]
