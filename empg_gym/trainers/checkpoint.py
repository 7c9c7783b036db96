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

Nothing is pickled.

Crash safety (a run killed at any moment -- SIGKILL, OOM, power loss -- resumes consistently):

- A checkpoint is written into ``checkpoints/.iter_N.tmp-PID`` and renamed into place, then ``latest`` is
  replaced atomically; old checkpoints are pruned by renaming them to ``.iter_N.del-PID`` first. So every
  ``iter_*`` folder is complete, and :func:`clean_stale` (run at start-up, under the run lock) removes what
  a kill left behind (temporary and half-deleted folders; a half-finished re-save is rolled back).
- The trainer appends an iteration's metrics row *before* it publishes that iteration's checkpoint, and on
  resume truncates ``metrics.jsonl`` to the checkpoint's iteration (:func:`truncate_metrics`). Rows past the
  checkpoint are recomputed by the resumed run, so the file ends up with each iteration exactly once.
- :func:`latest_checkpoint` follows ``latest`` when it names a complete checkpoint, and otherwise (dangling,
  torn or pointing at a damaged folder) falls back to the newest complete ``iter_*`` folder.
  :func:`checkpoint_problem` decides "complete": the state file parses and names the folder's iteration,
  and every safetensors file is whole (its header parses and the file is exactly as long as the header says).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, load_model, save_file, save_model

from empg_gym._io import write_text_atomic
from empg_gym._validate import CorruptFileError, check_safetensors
from empg_gym.trainers.config import TrainConfig, save_yaml

STATE_FILE = "trainer_state.json"
OPT_FILE = "optimizer.safetensors"

logger = logging.getLogger(__name__)

_ITER_RE = re.compile(r"^iter_(\d+)$")
_STALE_RE = re.compile(r"^\.(iter_\d+)\.(tmp|old|del)-(\d+)$")


class CheckpointError(CorruptFileError):
    """A checkpoint or safetensors file is missing, corrupt or truncated (the message names the file)."""


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
    _umask_modes(tmp)
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
            doomed = ck_root / f".{p.name}.del-{os.getpid()}"
            os.replace(p, doomed)  # a kill mid-delete leaves a hidden folder, never a half iter_* folder
            shutil.rmtree(doomed, ignore_errors=True)
    return final


def checkpoint_problem(ckpt: str | os.PathLike) -> str | None:
    """Why the checkpoint folder ``ckpt`` is not complete and whole, or None when it is."""
    ck = Path(ckpt)
    if not ck.is_dir():
        return f"{ck}: no such checkpoint folder"
    try:
        state = json.loads((ck / STATE_FILE).read_text())
        it = int(state["iteration"])
    except FileNotFoundError:
        return f"{ck / STATE_FILE}: missing"
    except (OSError, ValueError, TypeError, KeyError):
        return f"{ck / STATE_FILE}: corrupt (not a JSON object with an integer 'iteration')"
    m = _ITER_RE.match(ck.name)
    if m and int(m.group(1)) != it:
        return f"{ck / STATE_FILE}: says iteration {it}, but the folder is {ck.name}"
    weights = [ck / "model.safetensors", ck / "adapter" / "adapter_model.safetensors"]
    shards = sorted(ck.glob("model-*-of-*.safetensors"))
    if not any(w.is_file() for w in weights) and not shards:
        return f"{ck}: no model weights (model.safetensors or adapter/adapter_model.safetensors)"
    extras = sorted(ck.glob("extra_*.safetensors"))
    for f in [*(w for w in weights if w.is_file()), *shards, ck / OPT_FILE, *extras]:
        try:
            check_safetensors(f)
        except CorruptFileError as e:
            return str(e)
    return None


def _iter_folders(run_dir: Path) -> list[Path]:
    """The ``iter_*`` checkpoint folders of a run, newest first."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _ITER_RE.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def _umask_modes(folder: Path) -> None:
    """Give every file under ``folder`` the mode ``open()`` would (safetensors writes 0600 files)."""
    from empg_gym._io import _umask

    mode = 0o666 & ~_umask()
    for f in folder.rglob("*"):
        if f.is_file() and not f.is_symlink():
            os.chmod(f, mode)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run, or None when it has none.

    ``latest`` is followed when it names a complete checkpoint; when it is missing, torn, dangling or names a
    damaged folder, the newest complete ``checkpoints/iter_*`` folder is used instead (with a warning).
    """
    run = Path(run_dir)
    ptr = run / "latest"
    named = None
    if ptr.is_file():
        try:
            named = run / ptr.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            named = None
        if named is not None and named.parent == run / "checkpoints" and checkpoint_problem(named) is None:
            return named
    problems: list[str] = []
    for ck in _iter_folders(run):
        why = checkpoint_problem(ck)
        if why is None:
            if ptr.is_file() or problems:
                logger.warning("%s: `latest` does not name a complete checkpoint (%s); using %s",
                               run, "; ".join(problems) or f"it names {named}", ck)
            return ck
        problems.append(why)
    return None


def run_checkpoint_problems(run_dir: str | os.PathLike) -> list[str]:
    """What is wrong with each ``iter_*`` folder of a run that is not complete (newest first)."""
    return [why for ck in _iter_folders(Path(run_dir)) if (why := checkpoint_problem(ck)) is not None]


def clean_stale(run_dir: str | os.PathLike) -> list[Path]:
    """Tidy what killed saves left in ``checkpoints/`` (call only while holding the run lock).

    Removes temporary (``.iter_N.tmp-PID``) and half-deleted (``.iter_N.del-PID``) folders. A
    ``.iter_N.old-PID`` folder is the previous copy of a checkpoint being re-saved: it is moved back to
    ``iter_N`` when the kill came before the new copy was in place, and removed otherwise.

    Returns:
        The stale folders removed or restored.
    """
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        m = _STALE_RE.match(p.name)
        if not m:
            continue
        final = root / m.group(1)
        if m.group(2) == "old" and not final.exists() and checkpoint_problem(p) is None:
            os.replace(p, final)
            logger.warning("restored %s from an interrupted re-save (%s)", final, p.name)
        else:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            logger.info("removed stale %s", p)
        out.append(p)
    return out


def load_trainer_state(ckpt: str | os.PathLike, optimizer: torch.optim.Optimizer,
                       extra_modules: Mapping[str, torch.nn.Module] | None = None) -> dict[str, Any]:
    """Restore the optimizer (and extra modules) from ``ckpt``; return the trainer state."""
    ck = Path(ckpt)
    why = checkpoint_problem(ck)
    if why is not None:
        raise CheckpointError(why)
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
    """Keep only the rows of iterations ``< iterations_done`` (for resuming from a checkpoint).

    Rows past the checkpoint (written before a kill that came ahead of the next checkpoint) are dropped:
    the resumed run recomputes them. A torn last line is dropped too. Duplicate rows of one iteration
    (written by versions that saved the checkpoint first) keep the last; a gap is logged.
    """
    p = Path(path)
    by_it: dict[int, dict[str, Any]] = {}
    for r in read_metrics(p):
        it = r.get("iteration", -1)
        if isinstance(it, int) and 0 <= it < iterations_done:
            by_it[it] = r
    missing = sorted(set(range(iterations_done)) - set(by_it))
    if missing:
        logger.warning("%s: no metrics rows for iteration(s) %s before the checkpoint", p, missing)
    write_text_atomic(p, "".join(json.dumps(by_it[i]) + "\n" for i in sorted(by_it)))
