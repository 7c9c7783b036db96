"""Checkpoints (DESIGN.md format), saved atomically, and the metrics JSONL of a run.

A run folder::

    <output_dir>/
      config.yaml              the resolved TrainConfig of the run
      metrics.jsonl            one JSON object per iteration
      latest                   text: the relative path of the newest complete checkpoint
      checkpoints/iter_000010/
        config.json, model.safetensors, ...   Hugging Face save_pretrained (safetensors) + tokenizer files
        agent.yaml             agent spec: `empg-eval --agent <this folder>` rebuilds the trained agent
        train_config.yaml      the resolved TrainConfig
        trainer_state.json     iteration, seed, package version, optimizer param groups
        optimizer.safetensors  optimizer tensors (AdamW moments and steps)
        extra_*.safetensors    other modules' weights (the PPO critic)

Nothing is pickled. A checkpoint is written into a temporary folder and renamed into place, then
``latest`` is replaced atomically, so a run killed at any moment leaves the previous checkpoint usable.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, load_model, save_file, save_model

from empg_gym._io import write_text_atomic
from empg_gym.trainers.config import TrainConfig, save_yaml

STATE_FILE = "trainer_state.json"
OPT_FILE = "optimizer.safetensors"


def checkpoint_name(iteration: int) -> str:
    """Folder name of the checkpoint taken after ``iteration`` iterations."""
    return f"iter_{iteration:06d}"


def optimizer_to_safetensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors (for safetensors) and JSON-able metadata."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v.detach().cpu().clone().reshape(v.shape if v.dim() else (1,))
                scalars.setdefault(str(pid), {})[k] = {"tensor": True, "shape": list(v.shape)}
            else:
                scalars.setdefault(str(pid), {})[k] = {"tensor": False, "value": v}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"state": scalars, "param_groups": groups}


def optimizer_from_safetensors(opt: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor],
                               meta: Mapping[str, Any]) -> None:
    """Load what :func:`optimizer_to_safetensors` wrote into ``opt`` (exactly)."""
    state: dict[int, dict[str, Any]] = {}
    for pid, entries in meta["state"].items():
        st = {}
        for k, info in entries.items():
            if info["tensor"]:
                st[k] = tensors[f"{pid}.{k}"].reshape(info["shape"])
            else:
                st[k] = info["value"]
        state[int(pid)] = st
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(
    run_dir: str | os.PathLike,
    iteration: int,
    *,
    model: Any,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    agent_spec: Mapping[str, Any],
    extra_modules: Mapping[str, torch.nn.Module] | None = None,
    extra_state: Mapping[str, Any] | None = None,
    keep: int = 0,
) -> Path:
    """Write the checkpoint after ``iteration`` iterations atomically and point ``latest`` at it.

    Args:
        run_dir: The run folder.
        iteration: Iterations completed.
        model: A Hugging Face model (``save_pretrained``).
        tokenizer: Its tokenizer (``save_pretrained``), or None.
        optimizer: The optimizer whose state to keep for resume.
        cfg: The resolved config.
        agent_spec: Contents of ``agent.yaml`` (``model`` is filled with the checkpoint path by loaders).
        extra_modules: Other modules to save (name -> module), e.g. the PPO critic.
        extra_state: JSON-able extra trainer state.
        keep: Keep the newest ``keep`` checkpoints (0 = all).

    Returns:
        The checkpoint folder.
    """
    run = Path(run_dir)
    ck_root = run / "checkpoints"
    ck_root.mkdir(parents=True, exist_ok=True)
    final = ck_root / checkpoint_name(iteration)
    tmp = ck_root / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save_pretrained(tmp, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    (tmp / "agent.yaml").write_text(yaml.safe_dump(dict(agent_spec), sort_keys=False))
    save_yaml(cfg, tmp / "train_config.yaml")
    tensors, meta = optimizer_to_safetensors(optimizer)
    save_file(tensors, str(tmp / OPT_FILE))
    for name, mod in (extra_modules or {}).items():
        save_model(mod, str(tmp / f"extra_{name}.safetensors"))  # handles tied (shared) tensors
    state = {"iteration": iteration, "seed": cfg.seed, "optimizer": meta, "extra": dict(extra_state or {})}
    from empg_gym import __version__

    state["empg_gym_version"] = __version__
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=1))
    if final.exists():  # a re-save of the same iteration (e.g. after a resume): replace it
        old = ck_root / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    write_text_atomic(run / "latest", f"checkpoints/{final.name}\n")
    if keep > 0:
        done = sorted(p for p in ck_root.iterdir() if p.is_dir() and p.name.startswith("iter_"))
        for p in done[:-keep]:
            shutil.rmtree(p, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    run = Path(run_dir)
    ptr = run / "latest"
    if not ptr.is_file():
        return None
    p = run / ptr.read_text().strip()
    return p if (p / STATE_FILE).is_file() else None


def load_trainer_state(ckpt: str | os.PathLike, optimizer: torch.optim.Optimizer,
                       extra_modules: Mapping[str, torch.nn.Module] | None = None) -> dict[str, Any]:
    """Restore the optimizer (and extra modules) from ``ckpt``; return the trainer state."""
    ck = Path(ckpt)
    state = json.loads((ck / STATE_FILE).read_text())
    optimizer_from_safetensors(optimizer, load_file(str(ck / OPT_FILE)), state["optimizer"])
    for name, mod in (extra_modules or {}).items():
        load_model(mod, str(ck / f"extra_{name}.safetensors"))
    return state


# ------------------------------------------------------------------------------------------- metrics
def append_metrics(path: str | os.PathLike, row: Mapping[str, Any]) -> None:
    """Append one JSON line (flushed and fsynced, so a kill loses at most the current line)."""
    from empg_gym._jsonl import append_jsonl

    append_jsonl(path, row, fsync=True)


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete rows of a metrics JSONL file (a torn last line is ignored)."""
    from empg_gym._jsonl import read_jsonl

    return read_jsonl(path)


def truncate_metrics(path: str | os.PathLike, iterations_done: int) -> None:
    """Keep only the rows of iterations ``< iterations_done`` (for resuming from a checkpoint)."""
    p = Path(path)
    rows = [r for r in read_metrics(p) if r.get("iteration", -1) < iterations_done]
    write_text_atomic(p, "".join(json.dumps(r) + "\n" for r in rows))
