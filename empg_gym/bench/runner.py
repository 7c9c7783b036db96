"""``empg-bench run``: every (env, method, seed) run of a suite, resumable at the run level.

Results folder layout (everything the report needs; nothing else is read by ``empg-bench report``)::

    <results>/suite.yaml                      the suite as run (a later run refuses a suite that differs in
                                              shared settings or in a family that has results)
    <results>/starts/<env>/                   the start policy (HF folder + agent.yaml + start.json)
    <results>/starts/<env>/eval/<list>.json   its leaderboard entries (empg-eval), one per eval list
    <results>/runs/<env>/<method>/s<seed>/
        <env>-<method>-s<seed>/               the trainer's run folder (config.yaml, metrics.jsonl,
                                              checkpoints/)
        eval/<list>.json                      empg-eval entries of the final checkpoint
        result.json                           written last, atomically: the run is finished

Resume, precisely: a run with ``result.json`` is skipped. Otherwise its training continues from its latest
checkpoint (``TrainConfig.resume``; the trainer restores weights, optimizer and metrics exactly), then every
eval list without an entry is evaluated (``empg_gym.eval.harness.evaluate``, which itself resumes a killed
evaluation from its run file), then ``result.json`` is written. So a benchmark killed at any moment loses at
most the iterations since the last checkpoint (``save_every``) and the eval batch in flight. Runs execute in
:meth:`Suite.runs` order, one at a time (the trainer uses ``torch_threads`` cores; on a 2-core machine a
second run in parallel only slows both).

The start of each env is built first (:mod:`empg_gym.bench.start`) and evaluated on the same lists, so the
report can give success after training minus the start.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from empg_gym._io import write_json_atomic, write_text_atomic
from empg_gym.bench.suite import EnvSpec, EvalSpec, Suite

__all__ = ["RunPaths", "SuiteMismatch", "run_state", "run_suite"]

PHASES = ("time_rollout", "time_scoring", "time_estimator", "time_update", "time_checkpoint", "time_total")


class SuiteMismatch(RuntimeError):
    """The results folder was written by a different suite."""


@dataclass(frozen=True)
class RunPaths:
    """Folders and files of one (env, method, seed) run."""

    root: Path

    @classmethod
    def of(cls, results: str | os.PathLike, env: str, method: str, seed: int) -> RunPaths:
        """The run folder under ``results``."""
        return cls(Path(results) / "runs" / env / method / f"s{seed}")

    @property
    def train(self) -> Path:
        """The trainer's output_dir, named ``<env>-<method>-s<seed>``.

        The trainer names the checkpoint's agent after it, so eval entries (and leaderboard rows) say which
        run they are.
        """
        seed, method, env = self.root.name, self.root.parent.name, self.root.parent.parent.name
        return self.root / f"{env}-{method}-{seed}"

    @property
    def result(self) -> Path:
        """Written last: the run is finished."""
        return self.root / "result.json"

    def eval(self, ev: EvalSpec) -> Path:
        """The eval entry of one list."""
        return self.root / "eval" / f"{ev.key}.json"


def start_dir(results: str | os.PathLike, env: str) -> Path:
    """The start policy folder of an env."""
    return Path(results) / "starts" / env


#: Suite keys that name or describe the suite without changing any run.
_INERT_KEYS = frozenset({"description", "results"})


def _start_inputs(raw: Mapping[str, Any], env: str) -> dict[str, Any]:
    """What a family's start policy is built from, out of a raw suite dict (see :func:`build_start`)."""
    from empg_gym.bench.start import START_TRAIN_FIELDS, start_agent_spec

    sec = (raw.get("envs") or {}).get(env) or {}
    train = {**(raw.get("train") or {}), **(sec.get("train") or {})}
    start = {**(raw.get("start") or {}), **(sec.get("start") or {})}
    keys = set(START_TRAIN_FIELDS)
    if start.get("env_kwargs") is None:  # the start clones the RL runs' own env_kwargs
        keys.add("env_kwargs")
    try:
        agent: Any = start_agent_spec(train, env)
    except (TypeError, ValueError) as e:  # a suite file this version no longer accepts: compare as different
        agent = f"invalid: {e}"
    return {
        "env_id": sec.get("env_id"),
        "start": start,
        "train": {k: train.get(k) for k in sorted(keys)},
        "agent": agent,
    }


def _without(d: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    return {k: v for k, v in (d or {}).items() if k != key}


def _suite_diff(old: Mapping[str, Any], cur: Mapping[str, Any], results: Path) -> list[str]:
    """The keys in which ``cur`` differs from the suite ``old`` that ``results`` was made under, where it matters."""
    diff = sorted(
        k
        for k in set(old) | set(cur)
        if k not in _INERT_KEYS | {"envs", "methods"} and old.get(k) != cur.get(k)
    )
    runs_root = results / "runs"
    old_m, cur_m = old.get("methods") or {}, cur.get("methods") or {}
    for m in sorted(set(old_m) | set(cur_m)):  # a method may be added; one with runs may not change
        if old_m.get(m) != cur_m.get(m) and any(runs_root.glob(f"*/{m}")):
            diff.append(f"methods.{m}")
    old_envs, cur_envs = old.get("envs") or {}, cur.get("envs") or {}
    for name in sorted(set(old_envs) | set(cur_envs)):
        o, c = old_envs.get(name), cur_envs.get(name)
        if o == c:
            continue
        if (runs_root / name).exists():  # only its list of methods may change
            if _without(o, "methods") != _without(c, "methods"):
                diff.append(f"envs.{name}")
        elif start_dir(results, name).exists() and (
            o is None or c is None or _start_inputs(old, name) != _start_inputs(cur, name)
        ):
            diff.append(f"envs.{name} (its start)")
    return diff


def _check_suite(suite: Suite, results: Path) -> None:
    """Refuse a results folder whose runs were made under different settings; else record the suite.

    Keys shared by every run (seeds, train, start defaults, ...) must be equal. A method may be added to a
    folder with results, and a method without runs may change. An env family's own section may change as long
    as the folder holds no run of that family: freely while it has no start either, otherwise only in what the
    start is not built from (its RL task pool, iterations, batch, ...: the start is reused). A family with runs
    may change only its list of methods. So a family can be added or re-designed, and a finished benchmark
    extended with a method, next to the finished results.
    """
    saved = results / "suite.yaml"
    cur = dict(suite.raw)
    if saved.is_file():
        old = yaml.safe_load(saved.read_text()) or {}
        diff = _suite_diff(old, cur, results)
        if diff:
            raise SuiteMismatch(
                f"{results} holds results of a different suite (differs in: {', '.join(diff)}); "
                "use another --results folder, or restore the suite file"
            )
        if old == cur:
            return
    results.mkdir(parents=True, exist_ok=True)
    write_text_atomic(saved, yaml.safe_dump(cur, sort_keys=False))


def run_state(
    suite: Suite, results: str | os.PathLike, env: EnvSpec, method: str, seed: int
) -> dict[str, Any]:
    """``{"state": "done" | "partial" | "pending", "iterations": n, "of": N}`` of one run, from disk."""
    from empg_gym.trainers.checkpoint import read_metrics

    p = RunPaths.of(results, env.name, method, seed)
    total = int(suite.train_fields(env, method).get("iterations", 150))
    if p.result.is_file():
        return {"state": "done", "iterations": total, "of": total}
    rows = read_metrics(p.train / "metrics.jsonl") if (p.train / "metrics.jsonl").is_file() else []
    return {
        "state": "partial" if rows or p.train.exists() else "pending",
        "iterations": len(rows),
        "of": total,
    }


def _eval_one(agent_dir: Path, env: EnvSpec, ev: EvalSpec, out: Path, progress: bool) -> dict[str, Any]:
    from empg_gym.eval.harness import evaluate

    if out.is_file():
        return json.loads(out.read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "empg-eval",
        "--agent",
        str(agent_dir),
        "--env",
        env.env_id,
        "--split",
        ev.split,
        "--batch-size",
        str(ev.batch_size),
        "--out",
        str(out),
    ]
    if ev.limit is not None:
        cmd += ["--episodes", str(ev.limit)]
    if list(ev.seeds) != [0]:
        cmd += ["--seeds", *map(str, ev.seeds)]
    if ev.max_steps is not None:
        cmd += ["--max-steps", str(ev.max_steps)]
    if ev.env_kwargs:
        cmd += ["--env-kwargs", json.dumps(dict(ev.env_kwargs), sort_keys=True)]
    import shlex

    return evaluate(
        str(agent_dir),
        env.env_id,
        split=ev.split,
        limit=ev.limit,
        seeds=ev.seeds,
        out=out,
        batch_size=ev.batch_size,
        max_steps=ev.max_steps,
        env_kwargs=dict(ev.env_kwargs),
        progress=progress,
        command=shlex.join(cmd),
    )


def _summ(entry: Mapping[str, Any]) -> dict[str, Any]:
    m = entry["metrics"]
    return {
        "success": m["success"]["mean"],
        "success_ci": m["success"].get("ci"),
        "score": m["score"]["mean"],
        "steps": m["steps"]["mean"],
        "invalid_action_rate": m["invalid_action_rate"]["mean"],
        "episodes": entry["episodes"],
        "task_list_hash": entry["task_list"]["hash"],
        "wall_time_s": entry.get("wall_time_s"),
    }


def ensure_start(
    suite: Suite, results: Path, env: EnvSpec, *, log: Callable[[str], None], progress: bool = False
) -> Path:
    """Build (once) and evaluate (once per list) the start policy of ``env``."""
    from empg_gym.bench.start import build_start

    d = start_dir(results, env.name)
    if not (d / "start.json").is_file():
        log(f"[bold]{env.name}[/]: building the start policy (tokenizer + behaviour cloning)")
        t = time.perf_counter()
        fields = {**suite.train, **env.train}
        build_start(d, env.env_id, fields, env.start, name=f"{suite.name}-{env.name}-start")
        info = json.loads((d / "start.json").read_text())
        log(
            f"  start built in {time.perf_counter() - t:.0f}s: {info['parameters']:,} parameters, "
            f"BC loss {info['bc']['first_loss']:.2f} -> {info['bc']['last_loss']:.3f}"
        )
    for ev in env.evals:
        out = d / "eval" / f"{ev.key}.json"
        if not out.is_file():
            log(f"  evaluating the start of {env.name} on {ev.key}")
        s = _summ(_eval_one(d, env, ev, out, progress))
        log(
            f"  start {env.name} {ev.key}: success {s['success']:.3f} "
            f"(invalid {s['invalid_action_rate']:.2f})"
        )
    return d


def run_one(
    suite: Suite,
    results: Path,
    env: EnvSpec,
    method: str,
    seed: int,
    *,
    log: Callable[[str], None],
    stop_after: int | None = None,
    progress: bool = False,
) -> bool:
    """Train (or continue) and evaluate one run; returns whether it finished (``result.json`` written)."""
    from empg_gym.trainers import train
    from empg_gym.trainers.checkpoint import latest_checkpoint, read_metrics
    from empg_gym.trainers.config import from_dict

    p = RunPaths.of(results, env.name, method, seed)
    if p.result.is_file():
        return True
    start = start_dir(results, env.name)
    fields = suite.train_fields(env, method)
    fields.update(
        model=str(start.resolve()),
        seed=seed,
        output_dir=str(p.train),
        progress=progress,
        resume=latest_checkpoint(p.train) is not None,
    )
    cfg = from_dict(fields)
    p.root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done = len(read_metrics(p.train / "metrics.jsonl")) if (p.train / "metrics.jsonl").is_file() else 0
    if done < cfg.iterations:
        if p.train.exists() and not cfg.resume:  # killed before the first checkpoint: start over cleanly
            import shutil

            shutil.rmtree(p.train)
        train(cfg, stop_after=stop_after)
    rows = read_metrics(p.train / "metrics.jsonl")
    if len(rows) < cfg.iterations:
        return False
    ckpt = latest_checkpoint(p.train)
    if ckpt is None:
        raise RuntimeError(f"{p.train} finished {len(rows)} iterations but has no checkpoint")
    t1 = time.perf_counter()
    evals = {}
    for ev in env.evals:
        evals[ev.key] = _summ(_eval_one(ckpt, env, ev, p.eval(ev), progress))
    t2 = time.perf_counter()
    phases = {k: float(sum(r.get(k, 0.0) for r in rows)) for k in PHASES}
    tokens = float(sum(r.get("tokens", 0) for r in rows))
    result = {
        "env": env.name,
        "env_id": env.env_id,
        "method": method,
        "seed": seed,
        "checkpoint": str(ckpt.relative_to(p.root)),
        "iterations": len(rows),
        "evals": evals,
        "train_seconds_total": phases["time_total"],
        "phase_seconds": phases,
        "rollout_tokens": tokens,
        "rollout_tokens_per_s": tokens / phases["time_rollout"] if phases["time_rollout"] else None,
        "wall_seconds_this_session": {"train": t1 - t0, "eval": t2 - t1},
    }
    write_json_atomic(p.result, result, indent=1)
    return True


def select_runs(
    suite: Suite, only_env: str | None = None, only_method: str | None = None,
    only_seeds: Sequence[int] | None = None,
) -> tuple[list[EnvSpec], list[tuple[EnvSpec, str, int]]]:
    """The env families and the ``(env, method, seed)`` runs a ``run`` command selects, in suite order.

    Raises:
        ValueError: If a filter names an env, method or seed the suite does not have.
    """
    envs = [e for e in suite.envs if only_env in (None, e.name)]
    if only_env is not None and not envs:
        raise ValueError(f"--env {only_env!r} is not in the suite (envs: {[e.name for e in suite.envs]})")
    if only_method is not None and only_method not in suite.methods:
        raise ValueError(f"--method {only_method!r} is not in the suite (methods: {list(suite.methods)})")
    seeds = None if only_seeds is None else set(only_seeds)
    if seeds is not None and not seeds <= set(suite.seeds):
        raise ValueError(f"--seed {sorted(seeds - set(suite.seeds))} not in the suite (seeds: {list(suite.seeds)})")
    runs = [(e, m, s) for e, m, s in suite.runs()
            if e in envs and only_method in (None, m) and (seeds is None or s in seeds)]
    return envs, runs


def run_suite(
    suite: Suite,
    results: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    only_env: str | None = None,
    only_method: str | None = None,
    only_seeds: Sequence[int] | None = None,
    stop_after_runs: int | None = None,
) -> Path:
    """Run every unfinished run of ``suite`` (see the module docstring); returns the results folder.

    Args:
        suite: The suite.
        results: Results folder (default: the suite's).
        progress: Show rich progress.
        only_env: Run only this env family.
        only_method: Run only this method.
        only_seeds: Run only these seeds (several processes can then share one family's runs).
        stop_after_runs: Stop after finishing this many runs in this session (tests; time-boxed sessions);
            0 builds and evaluates the starts only.
    """
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    res = Path(results if results is not None else suite.results)
    _check_suite(suite, res)
    threads = int(suite.train.get("torch_threads", 0) or 0)
    if threads:
        torch.set_num_threads(threads)
    console = Console(stderr=True)
    try:  # the per-checkpoint "Loading weights" / "Writing model shards" bars would drown the run log
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass

    def log(msg: str) -> None:
        if progress:
            console.print(msg)

    envs, runs = select_runs(suite, only_env, only_method, only_seeds)
    n_done = sum(run_state(suite, res, e, m, s)["state"] == "done" for e, m, s in runs)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    )
    finished = 0
    with bar:
        task = bar.add_task(f"suite {suite.name}", total=len(runs), completed=n_done)
        for env in envs:
            ensure_start(suite, res, env, log=log)
        if stop_after_runs == 0:  # only the starts (then several processes can share the runs safely)
            return res
        for env, method, seed in runs:
            st = run_state(suite, res, env, method, seed)
            if st["state"] == "done":
                continue
            bar.update(task, description=f"{env.name} {method} s{seed}")
            verb = "resuming" if st["state"] == "partial" else "starting"
            log(f"{verb} {env.name}/{method}/s{seed} ({st['iterations']}/{st['of']} iterations done)")
            t = time.perf_counter()
            ok = run_one(suite, res, env, method, seed, log=log)
            if ok:
                r = json.loads(RunPaths.of(res, env.name, method, seed).result.read_text())
                ev = ", ".join(f"{k} {v['success']:.3f}" for k, v in r["evals"].items())
                log(f"  done {env.name}/{method}/s{seed} in {time.perf_counter() - t:.0f}s: success {ev}")
                bar.advance(task)
                finished += 1
                if stop_after_runs is not None and finished >= stop_after_runs:
                    break
    return res
