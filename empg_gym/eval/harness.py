"""``empg-eval``: evaluate an agent on an env's documented task list and write an entry.

The evaluation plays every task of the task list (:mod:`empg_gym.eval.tasks`) once per seed, batched through
:func:`empg_gym.rollout.collect`, and writes one JSON line per finished episode as it goes. Killed or
interrupted, the same command resumes; the final entry is written atomically.

Where it writes: ``--out PATH``, by default ``runs/eval/<env id>/<agent>_<split>.json`` under the current
folder (``runs/`` is git-ignored). It never writes into the committed leaderboard: publishing is the explicit
``empg-leaderboard add ENTRY``, which validates the entry first.

What it refuses (exit status 2, a message naming the option or file, and no entry): a bad option value, an
env without a documented task list, an env that cannot be built from its kwargs, an agent spec that does not
load, ``--agent expert`` on an env without a scripted expert, an agent that cannot act at all (an
:class:`~empg_gym.agent.AgentError`, e.g. an OpenAI-compatible endpoint that stays down after its retries),
and a run folder another evaluation is writing (a lock; the message says how to break a stale one).
A run in which every action was invalid finishes, but the summary and the entry (``warnings``) say so.

Data provenance: before playing, one env is built to read its data provenance
(:func:`empg_gym.eval.tasks.data_provenance`: real files with content hashes, or the generator's
parameters). It is part of the run's configuration (a resume on other data is refused), of the entry and of
the task-list hash, so results on different data are never grouped or paired.

Determinism and resume, precisely:

- Episodes are ordered seed-major: for each seed ``s`` in ``seeds``, the tasks in list order. The episode of
  task position ``i`` under seed ``s`` is reset with ``1000000 * s + i`` (see the leaderboard rules).
- Episodes run in **batches** of ``batch_size`` consecutive tasks of one seed. A batch is one ``collect`` call
  with ``seed = 1000000 * s + first position``, so the agent is re-seeded (``set_seed``) at every batch
  start. A batch's outcome therefore depends only on the batch, never on what ran before it.
- The run file (``<out>.partial.jsonl``) starts with a header holding the run's configuration; then one
  ``episode`` line per finished episode and one ``batch`` line per finished batch (with its wall time).
  On restart, the header must match the current configuration (else the run refuses, naming the
  difference; ``--fresh`` starts over). A batch is finished when its ``batch`` line and all its episode
  lines are on disk; finished batches are never redone. An unfinished batch (including one with a missing,
  torn or malformed episode line) is replayed from its start, because a batched sampler's choices depend
  on the whole batch (its random stream, an LLM's padding), and its episodes already on disk are checked
  to replay identically (a mismatch is reported: the agent or env is not deterministic). Torn or
  malformed lines anywhere are skipped (and counted in a message); a run file without a readable header
  is started over. A batch stopped by an :class:`~empg_gym.agent.AgentError` gets an ``abort`` line: its
  episodes were played by a failing agent and are dropped, not compared, on resume.
- One evaluation at a time per output: the run holds a lock (:func:`empg_gym._io.run_lock`) in the hidden
  folder ``.<entry name>.lock`` next to the entry while it runs.
- The entry is assembled from the records sorted by episode index, so a resumed evaluation gives the same
  entry as an uninterrupted one, except ``date``, ``command``, ``git_commit`` and ``wall_time_s``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gymnasium.error import DependencyNotInstalled

from empg_gym._io import RunLockedError, run_lock, write_json_atomic
from empg_gym._jsonl import JsonlAppender
from empg_gym._optional import require
from empg_gym.agent import AgentError
from empg_gym.eval.entry import ALL_INVALID, make_entry
from empg_gym.eval.metrics import episode_record
from empg_gym.eval.tasks import TaskList, data_provenance, describe_data, get_task_list

__all__ = ["AgentFailed", "EvalError", "RunMismatch", "default_out", "evaluate", "main", "reset_seed"]

#: Reset seed stride between evaluation seeds (episode of task i under seed s: ``SEED_STRIDE * s + i``).
SEED_STRIDE = 1_000_000
#: Run-file format; 2 added the data provenance to the header.
RUN_FORMAT = 2
#: Where entries go by default (relative to the current folder; git-ignored in the repository).
DEFAULT_OUT_ROOT = Path("runs") / "eval"
#: Fields every episode line must have, with their types (a line without them is treated as torn).
_RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "episode": int, "seed": int, "task": int, "task_id": str, "won": bool, "score": (int, float),
    "steps": int, "invalid_steps": int, "tokens": int}


class EvalError(RuntimeError):
    """An evaluation that cannot run or finish; the message says why and what to do."""


class AgentFailed(EvalError):
    """The agent cannot act (no expert for the env, a dead endpoint, ...); no entry is written."""


class RunMismatch(EvalError):
    """An existing run file was written by a different configuration."""


def reset_seed(seed: int, position: int) -> int:
    """The reset seed of the episode of task ``position`` under evaluation seed ``seed``.

    >>> reset_seed(2, 5)
    2000005
    """
    return SEED_STRIDE * int(seed) + int(position)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)


def default_out(env_id: str, agent_name: str, split: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/<env id>/<agent>_<split>.json``, ``root`` defaulting to ``runs/eval`` (git-ignored).

    >>> default_out("empg/KeyDoor-v0", "random", "test").as_posix()
    'runs/eval/empg/KeyDoor-v0/random_test.json'
    """
    base = Path(root) if root is not None else DEFAULT_OUT_ROOT
    return base / Path(*env_id.split("/")) / f"{_slug(agent_name)}_{_slug(split)}.json"


def _is_record(rec: Mapping[str, Any]) -> bool:
    for k, t in _RECORD_FIELDS.items():
        v = rec.get(k)
        if not isinstance(v, t) or (t is int and isinstance(v, bool)):
            return False
    return rec["episode"] >= 0


class _Run:
    """What a run file holds: header, episode records by index, finished batches, skipped lines."""

    def __init__(self) -> None:
        self.header: dict[str, Any] | None = None
        self.episodes: dict[int, dict[str, Any]] = {}
        self.batches: dict[str, tuple[float, list[int]]] = {}  # key -> (wall time, episode indices)
        self.skipped: list[int] = []  # line numbers of torn or malformed lines
        self.lines = 0


def _read_run(path: Path) -> _Run:
    """Parse a run file, skipping torn or malformed lines (see the module docstring)."""
    run = _Run()
    if not path.exists():
        return run
    with path.open("rb") as f:
        raw = f.read()
    for no, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        run.lines += 1
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            run.skipped.append(no)  # torn by a kill mid-write, or damaged
            continue
        if not isinstance(rec, dict):
            run.skipped.append(no)
            continue
        kind = rec.pop("type", None)
        if kind == "header" and run.header is None:
            run.header = rec
        elif kind == "episode" and _is_record(rec):
            run.episodes[rec["episode"]] = rec
        elif kind == "batch" and isinstance(rec.get("batch"), str) and isinstance(rec.get("episodes"), list):
            run.batches[rec["batch"]] = (float(rec.get("wall_time_s") or 0.0),
                                         [int(k) for k in rec["episodes"] if isinstance(k, int)])
        elif kind == "abort" and isinstance(rec.get("batch"), str):
            run.batches.pop(rec["batch"], None)
            for k in rec.get("episodes") or []:  # played by a failing agent: not evidence of anything
                run.episodes.pop(k, None) if isinstance(k, int) else None
        else:
            run.skipped.append(no)
    return run


class _RunFile:
    """Append-only JSONL writer that flushes every line (a kill loses at most a torn last line)."""

    def __init__(self, path: Path) -> None:
        self._w = JsonlAppender(path, sort_keys=True)  # starts a fresh line after a torn one

    def write(self, kind: str, rec: Mapping[str, Any]) -> None:
        self._w.write({"type": kind, **rec})

    def close(self) -> None:
        self._w.close()


def _resolve_agent(agent: Any, spec: Any,
                   load: bool = True) -> tuple[Any, str, dict[str, Any] | None, str | None]:
    """(agent object, or None for a spec when not ``load``; display name, spec dict, spec hash).

    A spec that does not load: :class:`EvalError`.
    """
    from empg_gym.policy import AgentSpec, load_agent, load_spec

    what = agent if isinstance(agent, (str, os.PathLike)) else spec
    try:
        if isinstance(agent, (str, os.PathLike, Mapping, AgentSpec)):
            s = load_spec(agent)
            return load_agent(s) if load else None, s.display_name, s.to_dict(), s.spec_hash()
        if spec is None:
            raise ValueError("evaluate(agent=<Agent object>) needs agent_spec= (a name, YAML path or "
                             "AgentSpec) so the entry records what was evaluated")
        s = load_spec(spec)
    except (AgentError, EvalError):
        raise
    except Exception as e:  # a spec loader's error: name the spec, keep its message, no traceback
        raise EvalError(f"agent {_spec_name(what)}: {_yaml_message(e, what)}") from e
    return agent, s.display_name, s.to_dict(), s.spec_hash()


def _is_positive_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def _spec_name(what: Any) -> str:
    return str(what) if isinstance(what, (str, os.PathLike)) else type(what).__name__


def _yaml_message(e: BaseException, what: Any) -> str:
    """An exception's message; a YAML syntax error (also one wrapped by the loader) gets the file and line."""
    if isinstance(what, (str, os.PathLike)) and Path(what).is_dir():
        what = Path(what) / "agent.yaml"  # a checkpoint folder's spec
    cause: BaseException | None = e
    while cause is not None:
        mark = getattr(cause, "problem_mark", None)
        if mark is not None and isinstance(what, (str, os.PathLike)) and Path(what).is_file():
            problem = getattr(cause, "problem", None) or type(cause).__name__
            return f"YAML syntax error at {what}:{mark.line + 1}:{mark.column + 1}: {problem}"
        cause = cause.__cause__ or cause.__context__
    return str(e) or type(e).__name__


def _probe_env(env_id: str, kwargs: Mapping[str, Any], first_task: Mapping[str, Any],
               needs_expert: bool) -> dict[str, Any]:
    """Build one env: its data provenance; with ``needs_expert``, check it has a scripted expert."""
    import gymnasium as gym

    import empg_gym  # noqa: F401  (registers the envs)

    try:
        env = gym.make(env_id, **dict(kwargs))
    except Exception as e:  # the env's own message (a missing data file, a bad kwarg) with what we built
        raise EvalError(f"cannot build {env_id} with env kwargs {dict(kwargs)}: {e}") from e
    try:
        try:
            prov = data_provenance(env, env_id)
        except Exception as e:  # a malformed provenance, an unreadable data file: say which env
            raise EvalError(f"cannot record which data {env_id} runs on: {e}") from e
        if needs_expert:
            env.reset(seed=0, options=dict(first_task))
            expert = getattr(env.unwrapped, "expert_action", None)
            try:
                if expert is None:
                    raise NotImplementedError
                expert()
            except NotImplementedError:
                raise AgentFailed(f"--agent expert plays the env's scripted expert, but {env_id} has none "
                                  "(its expert_action() is not implemented); evaluate another agent"
                                  ) from None
    finally:
        env.close()
    return prov


def _needs_expert(agent_obj: Any, spec_dict: Mapping[str, Any] | None) -> bool:
    if agent_obj is not None:
        return bool(getattr(agent_obj, "needs_expert", False))
    return bool(spec_dict and spec_dict.get("backend") == "expert")


@contextlib.contextmanager
def _eval_lock(out_path: Path) -> Iterator[None]:
    """Hold the lock of one evaluation output (a hidden folder next to the entry)."""
    folder = out_path.with_name(f".{out_path.name}.lock")
    try:
        with run_lock(folder, "evaluation"):
            yield
    except RunLockedError as e:
        from empg_gym._io import LOCK_NAME

        info, lock = e.holder, e.lock or folder / LOCK_NAME
        holder = (f" (pid {info.get('pid')} on host {info.get('host')}, started {info.get('started')}: "
                  f"{info.get('command')})") if info else ""
        raise EvalError(f"another evaluation{holder} is writing {out_path}; wait for it to finish, stop it, "
                        "or pass another --out. If that process is gone (it ran on another machine sharing "
                        f"this folder), break the stale lock by deleting {lock}") from None
    finally:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty, i.e. the lock was released


def evaluate(
    agent: Any,
    env_id: str,
    *,
    split: str = "test",
    limit: int | None = None,
    seeds: Sequence[int] = (0,),
    out: str | os.PathLike | None = None,
    batch_size: int = 16,
    max_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    agent_spec: Any = None,
    progress: bool = True,
    fresh: bool = False,
    command: str | None = None,
    keep_run_file: bool = False,
    workers: int = 1,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Evaluate an agent on the documented task list of ``env_id`` and ``split``; write and return the entry.

    Args:
        agent: An agent spec (built-in name, YAML path, checkpoint folder, mapping, AgentSpec) or an agent
            object (then ``agent_spec`` says what it is).
        env_id: Gymnasium ID.
        split: Split of the task list (``empg_gym.eval.tasks``).
        limit: Play only the first ``limit`` tasks (quick checks; not a valid leaderboard entry).
        seeds: Evaluation seeds (integers >= 0); every task is played once per seed.
        out: Entry path (default :func:`default_out`: ``runs/eval/<env id>/<agent>_<split>.json``); the run
            file is ``<out>.partial.jsonl``.
        batch_size: Episodes per batch (the resume unit, and the generate batch of an LLM).
        max_steps: Episode step limit (default: the env's registered ``max_episode_steps``).
        env_kwargs: Extra constructor kwargs on top of the task list's (e.g. ``{"data_dir": ...}``).
        agent_spec: The spec of an agent object.
        progress: Show a progress bar.
        fresh: Discard an existing run file instead of resuming.
        command: The command line to record (default: reconstructed from the arguments).
        keep_run_file: Keep the ``.partial.jsonl`` after writing the entry.
        workers: Play batches on this many Ray actors (:mod:`empg_gym.eval.distributed`); the entry is the
            same as with 1 (the single-process loop) apart from timings and the command.
        ray_address: Join this Ray cluster (``"auto"`` or ``"HOST:PORT"``) instead of starting a local one.

    Returns:
        The entry (also written to ``out``).

    Raises:
        EvalError: A bad argument, no documented task list, an env that cannot be built, an agent spec that
            does not load, or another evaluation writing the same output.
        AgentFailed: The agent cannot act (no expert for the env; an :class:`~empg_gym.agent.AgentError`
            such as a dead endpoint). Finished batches stay in the run file; nothing else is written.
        RunMismatch: A run file from a different configuration exists (use ``fresh=True``).
    """
    from empg_gym.rollout import collect

    try:
        tl: TaskList = get_task_list(env_id, split)
    except KeyError as e:
        raise EvalError(e.args[0]) from None
    if not _is_positive_int(batch_size):
        raise EvalError(f"batch_size (--batch-size) must be an integer >= 1, got {batch_size!r}")
    if limit is not None and not _is_positive_int(limit):
        raise EvalError(f"limit (--episodes) must be an integer >= 1 (the number of tasks to play), "
                        f"got {limit!r}")
    if max_steps is not None and not _is_positive_int(max_steps):
        raise EvalError(f"max_steps (--max-steps) must be an integer >= 1, got {max_steps!r}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise EvalError(f"seeds (--seeds) must be distinct integers >= 0, at least one, got {seeds}")
    kwargs = {**tl.env_kwargs, **(env_kwargs or {})}
    options = tl.options(limit)
    remote = workers > 1 or ray_address is not None  # Ray actors build their own agents
    agent_obj, name, spec_dict, spec_hash = _resolve_agent(agent, agent_spec, load=not remote)
    provenance = _probe_env(env_id, kwargs, options[0], _needs_expert(agent_obj, spec_dict))
    out_path = Path(out) if out is not None else default_out(env_id, name, split)
    if out_path.is_dir():
        raise EvalError(f"--out {out_path} is a folder; give the entry's file path, "
                        f"e.g. {out_path / 'entry.json'}")
    run_path = out_path.with_name(out_path.name + ".partial.jsonl")
    config = {"format": RUN_FORMAT, "env_id": env_id, "split": split, "env_kwargs": kwargs,
              "options": options, "seeds": seeds, "batch_size": batch_size, "max_steps": max_steps,
              "spec_hash": spec_hash, "data": provenance}
    if command is None:
        command = _command(agent, env_id, split, limit, seeds, out, batch_size, max_steps, env_kwargs)

    with _eval_lock(out_path):
        if fresh:
            run_path.unlink(missing_ok=True)
        run = _read_run(run_path)
        restart = run.header is None and run.lines > 0
        if restart:
            print(f"empg-eval: {run_path} has no readable header (torn by a kill at its start?); "
                  "starting over", file=sys.stderr)
            run = _Run()
        elif run.header is not None and run.header != config:
            diff = sorted(k for k in set(run.header) | set(config) if run.header.get(k) != config.get(k))
            data = (f"; it ran on {describe_data(run.header.get('data'))}, this run would use "
                    f"{describe_data(provenance)}") if "data" in diff else ""
            raise RunMismatch(f"{run_path} was written by another configuration (differs in: "
                              f"{', '.join(diff)}{data}); re-run with the same arguments and data to resume, "
                              "or pass --fresh to start over")
        if run.skipped:
            print(f"empg-eval: {run_path.name}: skipped {len(run.skipped)} torn or malformed line(s) "
                  f"(line {', '.join(map(str, run.skipped[:5]))}{', ...' if len(run.skipped) > 5 else ''}); "
                  "their batches are replayed", file=sys.stderr)
        if restart:
            run_path.unlink()
        writer = _RunFile(run_path)
        if run.header is None:
            writer.write("header", config)
        records, wall = _play(agent_obj, env_id, run, writer, run_path.name, options=options, seeds=seeds,
                              kwargs=kwargs, batch_size=batch_size, max_steps=max_steps, progress=progress,
                              collect=collect, remote=remote, spec_dict=spec_dict, workers=workers,
                              ray_address=ray_address, name=name)
        spec_json = None
        try:
            import gymnasium as gym

            spec_json = gym.spec(env_id).to_json()
        except Exception:  # an env spec with a non-JSON kwarg must not lose the evaluation
            spec_json = None
        result = make_entry(records, env_id=env_id, split=split, env_kwargs=kwargs, options=options,
                            task_list_name=tl.name, seeds=seeds, agent_name=name, agent_spec=spec_dict,
                            spec_hash=spec_hash, command=command, max_steps=max_steps,
                            env_spec_json=spec_json, data=provenance, wall_time_s=wall)
        result["batch_size"] = batch_size
        write_json_atomic(out_path, result)
        if not keep_run_file:
            run_path.unlink(missing_ok=True)
    return result


def _play(agent_obj: Any, env_id: str, run: _Run, writer: _RunFile, run_name: str, *,
          options: list[dict[str, Any]], seeds: list[int], kwargs: dict[str, Any], batch_size: int,
          max_steps: int | None, progress: bool, collect: Any, remote: bool = False,
          spec_dict: Mapping[str, Any] | None = None, workers: int = 1,
          ray_address: str | None = None, name: str = "") -> tuple[list[dict[str, Any]], float]:
    """Play the unfinished batches, appending to the run file; (records in episode order, wall seconds)."""
    done = run.episodes
    n = len(options)
    batches = [(si, s, a, min(a + batch_size, n))
               for si, s in enumerate(seeds) for a in range(0, n, batch_size)]
    batch_times: dict[str, float] = {}
    todo = []
    for si, s, a, b in batches:
        key = f"{s}:{a}"
        eps = [si * n + p for p in range(a, b)]
        if key in run.batches and all(k in done for k in eps):
            batch_times[key] = run.batches[key][0]
        else:
            todo.append((si, s, a, b))
    if batch_times and todo:
        print(f"empg-eval: resuming {run_name}: {len(batches) - len(todo)}/{len(batches)} batches "
              "done", file=sys.stderr)
    mismatches: list[int] = []
    from empg_gym.eval.progress import RunProgress

    bar = RunProgress(len(seeds) * n, done=len(done), wins=sum(bool(r.get("won")) for r in done.values()),
                      label=f"{env_id} x {name}", enabled=progress)

    def add(k: int, rec: dict[str, Any]) -> None:
        old = done.get(k)
        if old is not None and old != rec:
            mismatches.append(k)
        done[k] = rec
        writer.write("episode", rec)
        bar.advance(rec)

    try:
        if remote:
            from empg_gym.eval.distributed import play_batches

            payload = spec_dict if agent_obj is None else agent_obj
            for (si, s, a, b), recs, dt in play_batches(
                    payload, env_id, todo, n=n, options=options, env_kwargs=kwargs, max_steps=max_steps,
                    batch_size=batch_size, seed_stride=SEED_STRIDE, workers=workers, address=ray_address):
                for rec in recs:
                    add(int(rec["episode"]), rec)
                batch_times[f"{s}:{a}"] = dt
                writer.write("batch", {"batch": f"{s}:{a}", "episodes": [si * n + p for p in range(a, b)],
                                       "wall_time_s": round(dt, 4)})
            todo = []
        for si, s, a, b in todo:
            base = si * n

            def on_traj(traj, si=si, s=s, a=a) -> None:  # noqa: ANN001
                pos = a + traj.task_position
                k = si * n + pos
                add(k, episode_record(traj, episode=k, seed=s, task_position=pos))

            t0 = time.perf_counter()
            try:
                collect(agent_obj, env_id, tasks=options[a:b], seed=reset_seed(s, a), env_kwargs=kwargs,
                        max_steps=max_steps, batch_size=batch_size, progress=False, on_trajectory=on_traj)
            except AgentError as e:
                writer.write("abort", {"batch": f"{s}:{a}", "episodes": [base + p for p in range(a, b)],
                                       "reason": str(e)[:500]})
                raise AgentFailed(f"the agent cannot act: {e}. No entry was written; fix the agent and run "
                                  "the same command to resume (finished batches are kept)") from e
            dt = time.perf_counter() - t0
            batch_times[f"{s}:{a}"] = dt
            writer.write("batch", {"batch": f"{s}:{a}", "episodes": [base + p for p in range(a, b)],
                                   "wall_time_s": round(dt, 4)})
    finally:
        bar.close()
        writer.close()
    if mismatches:
        print(f"empg-eval: warning: {len(mismatches)} replayed episodes differ from the interrupted run "
              f"(e.g. episode {mismatches[0]}): the agent or env is not deterministic under a seed",
              file=sys.stderr)
    return [done[k] for k in range(len(seeds) * n)], sum(batch_times.values())


def _command(agent: Any, env_id: str, split: str, limit: int | None, seeds: Sequence[int], out: Any,
             batch_size: int, max_steps: int | None, env_kwargs: Mapping[str, Any] | None) -> str:
    parts = ["empg-eval", "--agent", str(agent if isinstance(agent, (str, os.PathLike)) else "<object>"),
             "--env", env_id, "--split", split]
    if limit is not None:
        parts += ["--episodes", str(limit)]
    if list(seeds) != [0]:
        parts += ["--seeds", *map(str, seeds)]
    if batch_size != 16:
        parts += ["--batch-size", str(batch_size)]
    if max_steps is not None:
        parts += ["--max-steps", str(max_steps)]
    if env_kwargs:
        parts += ["--env-kwargs", json.dumps(dict(env_kwargs), sort_keys=True)]
    if out is not None:
        parts += ["--out", str(out)]
    return shlex.join(parts)


def summary_text(entry: Mapping[str, Any]) -> str:
    """A few lines summarising an entry (what ``empg-eval`` prints at the end)."""
    m = entry["metrics"]

    def pct(key: str) -> str:
        v = m[key]
        ci = v.get("ci")
        if v.get("mean") is None:
            return "–"
        return f"{100 * v['mean']:.1f}%" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")

    lines = [f"{entry['agent']['name']} on {entry['env']['id']} [{entry['split']}]: "
             f"{entry['episodes']} episodes "
             f"({entry['task_list']['n_tasks']} tasks x {len(entry['seeds'])} seeds, task list "
             f"{entry['task_list']['hash']})",
             f"  data: {describe_data(entry.get('data'))}",
             f"  success {pct('success')}   score {pct('score')}   steps {m['steps']['mean']:.2f}   "
             f"invalid {pct('invalid_action_rate').split(' ')[0]}   "
             f"tokens/ep {m['tokens_per_episode']['mean']:.0f}"
             + (f"   wall {entry['wall_time_s']:.1f}s" if entry.get("wall_time_s") is not None else "")]
    for name, block in entry.get("per_type", {}).items():
        lines.append(f"  {name}: success {100 * block['success']['mean']:.1f}% (n={block['success']['n']})")
    for name, block in entry.get("per_source", {}).items():
        extra = "".join(f"  {k} {100 * block[k]['mean']:.1f}%" for k in ("em", "f1") if k in block)
        n = block["success"]["n"]
        lines.append(f"  {name}: success {100 * block['success']['mean']:.1f}%{extra} (n={n})")
    if ALL_INVALID in entry.get("warnings", []):
        lines.append("  WARNING: 100% of the actions were invalid: the agent never produced an action the "
                     "env accepted (wrong output format? a dead endpoint?). The entry says so in 'warnings'.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-eval --agent X --env ID``: evaluate an agent, write an entry (default under runs/eval/)."""
    from empg_gym.eval._cli import SIGPIPE_STATUS, nonneg_int, pipe_closed, positive_int

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="empg-eval", description=main.__doc__)
    p.add_argument("--agent", required=True, help="built-in name (random, expert, agents/<name>.yaml), "
                   "a spec YAML file, or a checkpoint folder holding agent.yaml")
    p.add_argument("--env", required=True, help="env ID, e.g. empg/KeyDoor-v0")
    p.add_argument("--split", default="test", help="task-list split (see leaderboard/README.md)")
    p.add_argument("--episodes", type=positive_int, default=None, metavar="N",
                   help="play only the first N tasks (quick check; not a valid leaderboard entry)")
    p.add_argument("--seeds", type=nonneg_int, nargs="+", default=[0], help="evaluation seeds (default: 0)")
    p.add_argument("--out", default=None,
                   help="entry path (default runs/eval/<env>/<agent>_<split>.json; publish it with "
                   "`empg-leaderboard add`)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="episodes per batch (resume unit)")
    p.add_argument("--max-steps", type=positive_int, default=None,
                   help="episode step limit (default: the env's)")
    p.add_argument("--env-kwargs", default="{}", help="extra env kwargs as JSON (e.g. a data_dir)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="play batches on N Ray actors, each with its own envs and agent (extra: ray)")
    p.add_argument("--ray-address", default=None, metavar="auto|HOST:PORT",
                   help="join this Ray cluster instead of starting a local one (implies Ray workers)")
    p.add_argument("--fresh", action="store_true", help="discard an interrupted run instead of resuming it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the entry's metrics as JSON")
    args = p.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f"argument --seeds: the seeds must be distinct, got {args.seeds}")
    if args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as e:
        p.error(f"argument --env-kwargs: not valid JSON ({e.msg} at column {e.colno}): {args.env_kwargs!r}")
    if not isinstance(env_kwargs, dict):
        p.error(f"argument --env-kwargs: expected a JSON object like '{{\"data_dir\": \"...\"}}', "
                f"got {args.env_kwargs!r}")
    written = False
    try:
        if args.workers > 1 or args.ray_address is not None:
            require("ray", why="empg-eval --workers / --ray-address")
        entry = evaluate(args.agent, args.env, split=args.split, limit=args.episodes, seeds=args.seeds,
                         out=args.out, batch_size=args.batch_size, max_steps=args.max_steps,
                         env_kwargs=env_kwargs, progress=not args.no_progress, fresh=args.fresh,
                         command=shlex.join(["empg-eval", *argv]), workers=args.workers,
                         ray_address=args.ray_address)
        written = True
        if args.json:
            keys = ("metrics", "per_type", "per_source", "per_seed", "warnings")
            print(json.dumps({k: entry[k] for k in keys}, indent=2))
        else:
            print(summary_text(entry))
        out = args.out or default_out(args.env, entry["agent"]["name"], args.split)
        print(f"entry: {out}")
        if args.episodes is not None:
            print("(--episodes: a quick check on part of the task list, not a leaderboard entry)")
        elif not args.json and not Path(out).resolve().is_relative_to(_leaderboard_results()):
            print(f"publish it: empg-leaderboard add {shlex.quote(str(out))}")
        if ALL_INVALID in entry.get("warnings", []):
            print("empg-eval: WARNING: every action of this run was invalid (100% invalid-action rate)",
                  file=sys.stderr)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("\nempg-eval: interrupted; finished episodes are saved, run the same command to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # `empg-eval ... | head`: the reader went away
        pipe_closed()
        return 0 if written else SIGPIPE_STATUS
    except (EvalError, DependencyNotInstalled) as e:
        print(f"empg-eval: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an output folder that cannot be written, a full disk: the path is in the message
        print(f"empg-eval: cannot write the run's files: {e}", file=sys.stderr)
        return 2
    return 0


def _leaderboard_results() -> Path:
    from empg_gym.eval.entry import default_root

    return (default_root() / "results").resolve()


if __name__ == "__main__":
    sys.exit(main())
