"""Training: one policy-gradient loop shared by every estimator (:mod:`.pg`), PPO with a critic (:mod:`.ppo`).

Nothing here is imported by ``import empg_gym``; torch and transformers load only when a trainer runs.
:func:`train` picks the trainer (the modules import one way: ``ppo`` -> ``pg`` -> ``config``/``scoring``).
See ``docs/training.md`` and ``docs/architecture.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from empg_gym.trainers.config import TrainConfig

__all__ = ["train"]


def train(cfg: TrainConfig, *, stop_after: int | None = None) -> Path:
    """Train with the shared PG loop, or PPO when ``cfg.estimator`` is ``gae``; returns the run folder.

    Args:
        cfg: The run's config.
        stop_after: Stop after this many iterations in total (tests: simulates a kill after a checkpoint).
    """
    if cfg.uses_critic:
        from empg_gym.trainers.ppo import PPOTrainer

        return PPOTrainer(cfg).train(stop_after=stop_after)
    from empg_gym.trainers.pg import PGTrainer

    return PGTrainer(cfg).train(stop_after=stop_after)
