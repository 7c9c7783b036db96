"""Gymnasium wrappers shared by the rollout, the evaluator and the CLI."""

from __future__ import annotations

from empg_gym.wrappers.expert import ExpertInfo

__all__ = ["ExpertInfo"]
