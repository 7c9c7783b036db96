"""empg-gym: environments, rollouts, credit assignment and evaluation for long-horizon LLM agents.

Importing the package registers every ``empg/*`` environment with Gymnasium (string entry points only,
so nothing heavy is imported) and nothing else: no logging configuration, no torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

from empg_gym import envs  # noqa: E402,F401  (registration only)

__all__ = ["__version__", "envs"]
