"""The advantage-estimator registry: the public extension point for credit-assignment methods.

Every estimator has one signature::

    fn(batch: StepBatch, *, <hyperparameters with defaults>) -> np.ndarray  # [N] per-step advantages

and lives in its own module ``empg_gym/advantages/<name>.py``, registered under ``<name>``. The trainer
calls ``get(cfg.estimator)(batch, **cfg.estimator_kwargs)`` and spreads each step's advantage over the
step's response tokens. Estimators are pure numpy (no torch), vectorised over steps.

>>> from empg_gym import advantages
>>> "empg" in advantages.list_estimators()
True
>>> advantages.get("grpo").__name__
'grpo'

Adding a method: write ``advantages/<name>.py`` with a function decorated ``@register("<name>")``, import
it at the bottom of this file, and add ``tests/advantages/test_<name>.py`` (see ``docs/estimators.md``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

__all__ = [
    "PROTOCOLS", "Estimator", "check_kwargs", "describe", "get", "list_estimators", "register",
    "signature_defaults",
]

#: Training protocols of the built-in estimators (``protocol=`` keyword; the first is the default):
#: ``verl-agent`` (verl-agent's conventions) and ``trajectory``. See ``docs/estimators.md``.
PROTOCOLS = ("verl-agent", "trajectory")

#: ``fn(batch, **hyperparams) -> [N] advantages``.
Estimator = Callable[..., np.ndarray]

_REGISTRY: dict[str, Estimator] = {}


def register(name: str) -> Callable[[Estimator], Estimator]:
    """Decorator registering an estimator under ``name``.

    Args:
        name: The registry name (equal to the module name, except documented aliases).

    Raises:
        ValueError: If ``name`` is already registered.
    """

    def deco(fn: Estimator) -> Estimator:
        if name in _REGISTRY:
            where = _REGISTRY[name].__module__
            raise ValueError(f"advantage estimator {name!r} is already registered (by {where})")
        _REGISTRY[name] = fn
        return fn

    return deco


def get(name: str) -> Estimator:
    """The estimator registered under ``name``.

    Raises:
        KeyError: If no estimator has that name (the message lists the known names).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown advantage estimator {name!r}; known: {known}") from None


def list_estimators() -> list[str]:
    """Names of all registered estimators, sorted."""
    return sorted(_REGISTRY)


def signature_defaults(name: str) -> dict[str, object]:
    """Hyperparameters of estimator ``name`` with their defaults (keyword arguments after ``batch``)."""
    params = list(inspect.signature(get(name)).parameters.values())[1:]
    return {p.name: (None if p.default is inspect.Parameter.empty else p.default) for p in params}


def describe(name: str) -> str:
    """First line of estimator ``name``'s docstring."""
    doc = inspect.getdoc(get(name)) or ""
    return doc.splitlines()[0] if doc else ""


def check_kwargs(name: str, kwargs: dict[str, object]) -> None:
    """Raise ``ValueError`` if ``kwargs`` are not hyperparameters of estimator ``name``."""
    known = signature_defaults(name)
    bad = sorted(set(kwargs) - set(known))
    if bad:
        raise ValueError(f"estimator {name!r} has no hyperparameter(s) {bad}; it takes {sorted(known)}")


# Built-in estimators register themselves on import.
from empg_gym.advantages import empg, gae, gigpo, grpo, reinforce_pp, rloo  # noqa: E402,F401
