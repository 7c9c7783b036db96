"""``empg-eval``: evaluate an agent on an env's documented task list and write a leaderboard entry.

The evaluation plays every task of the task list (:mod:`empg_gym.eval.tasks`) once per seed, batched through
:func:`empg_gym.rollout.collect`, and writes one JSON line per finished episode as it goes. Killed or
interrupted, the same command resumes; the final entry is written atomically.

Determinism and resume, precisely:

- Episodes are ordered seed-major: for each seed ``s`` in ``seeds``, the tasks in list order. The episode of
  task position ``i`` under seed ``s`` is reset with ``1000000 * s + i`` (see the leaderboard rules).
- Episodes run in **batches** of ``batch_size`` consecutive tasks of one seed. A batch is one ``collect`` call
  with ``seed = 1000000 * s + first position``, so the agent is re-seeded (``set_seed``) at every batch
  start. A batch's outcome therefore depends only on the batch, never on what ran before it.
- The run file (``<out>.partial.jsonl``) starts with a header holding the run's configuration; then one
  ``episode`` line per finished episode and one ``batch`` line per finished batch (with its wall time).
  On restart, the header must match the current configuration (else the run refuses, naming the
  difference; ``--fresh`` starts over). Finished batches are never redone; an unfinished batch is replayed
  from its start, because a batched sampler's choices depend on the whole batch (its random stream, an
  LLM's padding), and its episodes already on disk are checked to replay identically (a mismatch is
  reported: the agent or env is not deterministic). A torn last line (killed mid-write) is ignored.
- The entry is assembled from the records sorted by episode index, so a resumed evaluation gives the same
  entry as an uninterrupted one, except ``date``, ``command``, ``git_commit`` and ``wall_time_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from empg_gym._io import write_json_atomic
from empg_gym.eval.entry import make_entry
from empg_gym.eval.metrics import episode_record
from empg_gym.eval.tasks import TaskList, get_task_list

__all__ = ["RunMismatch", "default_out", "evaluate", "main", "reset_seed"]

#: Reset seed stride between evaluation seeds (episode of task i under seed s: ``SEED_STRIDE * s + i``).
SEED_STRIDE = 1_000_000
RUN_FORMAT = 1


class RunMismatch(RuntimeError):
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
    """``<leaderboard>/results/<env id>/<agent>_<split>.json``."""
    from empg_gym.eval.leaderboard import default_root

    base = Path(root) if root is not None else default_root()
    return base / "results" / Path(*env_id.split("/")) / f"{_slug(agent_name)}_{_slug(split)}.json"


def _read_run(path: Path) -> tuple[dict[str, Any] | None, dict[int, dict[str, Any]], dict[str, float]]:
    """Header, episode records by index, and finished batches (key -> wall time) of a run file."""
    header: dict[str, Any] | None = None
    episodes: dict[int, dict[str, Any]] = {}
    batches: dict[str, float] = {}
    if not path.exists():
        return header, episodes, batches
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line from a kill mid-write
            if not isinstance(rec, dict):
                continue
            kind = rec.pop("type", None)
            if kind == "header":
                header = rec
            elif kind == "episode":
                episodes[int(rec["episode"])] = rec
            elif kind == "batch":
                batches[str(rec["batch"])] = float(rec.get("wall_time_s", 0.0))
    return header, episodes, batches


class _RunFile:
    """Append-only JSONL writer that flushes every line (a kill loses at most a torn last line)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A torn last line must not glue onto the next record.
        if path.exists() and path.stat().st_size:
            with path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
        else:
            torn = False
        self._f = path.open("a", encoding="utf-8")
        if torn:
            self._f.write("\n")

    def write(self, kind: str, rec: Mapping[str, Any]) -> None:
        self._f.write(json.dumps({"type": kind, **rec}, sort_keys=True) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def _resolve_agent(agent: Any, spec: Any) -> tuple[Any, str, dict[str, Any] | None, str | None]:
    """(agent object, display name, spec dict, spec hash)."""
    from empg_gym.policy import AgentSpec, load_agent, load_spec

    if isinstance(agent, (str, os.PathLike, Mapping, AgentSpec)):
        s = load_spec(agent)
        return load_agent(s), s.display_name, s.to_dict(), s.spec_hash()
    if spec is None:
        raise ValueError("evaluate(agent=<Agent object>) needs agent_spec= (a name, YAML path or AgentSpec) "
                         "so the entry records what was evaluated")
    s = load_spec(spec)
    return agent, s.display_name, s.to_dict(), s.spec_hash()


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
) -> dict[str, Any]:
    """Evaluate an agent on the documented task list of ``env_id`` and ``split``; write and return the entry.

    Args:
        agent: An agent spec (built-in name, YAML path, checkpoint folder, mapping, AgentSpec) or an agent
            object (then ``agent_spec`` says what it is).
        env_id: Gymnasium ID.
        split: Split of the task list (``empg_gym.eval.tasks``).
        limit: Play only the first ``limit`` tasks (quick checks; not a valid leaderboard entry).
        seeds: Evaluation seeds; every task is played once per seed.
        out: Entry path (default ``leaderboard/results/<env id>/<agent>_<split>.json``); the run file is
            ``<out>.partial.jsonl``.
        batch_size: Episodes per batch (the resume unit, and the generate batch of an LLM).
        max_steps: Episode step limit (default: the env's registered ``max_episode_steps``).
        env_kwargs: Extra constructor kwargs on top of the task list's (e.g. ``{"data_dir": ...}``).
        agent_spec: The spec of an agent object.
        progress: Show a progress bar.
        fresh: Discard an existing run file instead of resuming.
        command: The command line to record (default: reconstructed from the arguments).
        keep_run_file: Keep the ``.partial.jsonl`` after writing the entry.

    Returns:
        The entry (also written to ``out``).

    Raises:
        RunMismatch: A run file from a different configuration exists (use ``fresh=True``).
        KeyError: No documented task list for the env and split.
    """
    import gymnasium as gym

    import empg_gym  # noqa: F401  (registers the envs)
    from empg_gym.rollout import collect

    tl: TaskList = get_task_list(env_id, split)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    kwargs = {**tl.env_kwargs, **(env_kwargs or {})}
    options = tl.options(limit)
    agent_obj, name, spec_dict, spec_hash = _resolve_agent(agent, agent_spec)
    out_path = Path(out) if out is not None else default_out(env_id, name, split)
    run_path = out_path.with_name(out_path.name + ".partial.jsonl")
    config = {"format": RUN_FORMAT, "env_id": env_id, "split": split, "env_kwargs": kwargs,
              "options": options, "seeds": seeds, "batch_size": batch_size, "max_steps": max_steps,
              "spec_hash": spec_hash}
    if command is None:
        command = _command(agent, env_id, split, limit, seeds, out, batch_size, max_steps, env_kwargs)

    if fresh:
        run_path.unlink(missing_ok=True)
    header, done, batch_times = _read_run(run_path)
    if header is not None and header != config:
        diff = sorted(k for k in set(header) | set(config) if header.get(k) != config.get(k))
        raise RunMismatch(f"{run_path} was written by another configuration (differs in: {', '.join(diff)}); "
                          "re-run with the same arguments to resume, or pass --fresh to start over")
    writer = _RunFile(run_path)
    if header is None:
        writer.write("header", config)

    n = len(options)
    batches = [(si, s, a, min(a + batch_size, n))
               for si, s in enumerate(seeds) for a in range(0, n, batch_size)]
    todo = [b for b in batches if f"{b[1]}:{b[2]}" not in batch_times]
    if batch_times and todo:
        print(f"empg-eval: resuming {run_path.name}: {len(batches) - len(todo)}/{len(batches)} batches done",
              file=sys.stderr)
    mismatches: list[int] = []
    from empg_gym.eval.progress import RunProgress

    bar = RunProgress(len(seeds) * n, done=len(done), wins=sum(bool(r.get("won")) for r in done.values()),
                      label=f"{env_id} x {name}", enabled=progress)
    try:
        for si, s, a, b in todo:
            base = si * n

            def on_traj(traj, si=si, s=s, a=a) -> None:  # noqa: ANN001
                pos = a + traj.group_id
                k = si * n + pos
                rec = episode_record(traj, episode=k, seed=s, task_position=pos)
                old = done.get(k)
                if old is not None and old != rec:
                    mismatches.append(k)
                done[k] = rec
                writer.write("episode", rec)
                bar.advance(traj)

            t0 = time.perf_counter()
            collect(agent_obj, env_id, tasks=options[a:b], seed=reset_seed(s, a), env_kwargs=kwargs,
                    max_steps=max_steps, batch_size=batch_size, progress=False, on_trajectory=on_traj)
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

    records = [done[k] for k in range(len(seeds) * n)]
    spec_json = None
    try:
        spec_json = gym.spec(env_id).to_json()
    except Exception:  # an env spec with a non-JSON kwarg must not lose the evaluation
        spec_json = None
    entry = make_entry(records, env_id=env_id, split=split, env_kwargs=kwargs, options=options,
                       task_list_name=tl.name, seeds=seeds, agent_name=name, agent_spec=spec_dict,
                       spec_hash=spec_hash, command=command, max_steps=max_steps, env_spec_json=spec_json,
                       wall_time_s=sum(batch_times.values()))
    entry["batch_size"] = batch_size
    write_json_atomic(out_path, entry)
    if not keep_run_file:
        run_path.unlink(missing_ok=True)
    return entry


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
        return f"{100 * v['mean']:.1f}%" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")

    lines = [f"{entry['agent']['name']} on {entry['env']['id']} [{entry['split']}]: "
             f"{entry['episodes']} episodes "
             f"({entry['task_list']['n_tasks']} tasks x {len(entry['seeds'])} seeds, task list "
             f"{entry['task_list']['hash']})",
             f"  success {pct('success')}   score {pct('score')}   steps {m['steps']['mean']:.2f}   "
             f"invalid {100 * m['invalid_action_rate']['mean']:.1f}%   "
             f"tokens/ep {m['tokens_per_episode']['mean']:.0f}"
             + (f"   wall {entry['wall_time_s']:.1f}s" if entry.get("wall_time_s") is not None else "")]
    for name, block in entry.get("per_type", {}).items():
        lines.append(f"  {name}: success {100 * block['success']['mean']:.1f}% (n={block['success']['n']})")
    for name, block in entry.get("per_source", {}).items():
        extra = "".join(f"  {k} {100 * block[k]['mean']:.1f}%" for k in ("em", "f1") if k in block)
        n = block["success"]["n"]
        lines.append(f"  {name}: success {100 * block['success']['mean']:.1f}%{extra} (n={n})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-eval --agent X --env ID``: evaluate an agent, write a leaderboard entry."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="empg-eval", description=main.__doc__)
    p.add_argument("--agent", required=True, help="built-in name (random, expert, agents/<name>.yaml), "
                   "a spec YAML file, or a checkpoint folder holding agent.yaml")
    p.add_argument("--env", required=True, help="env ID, e.g. empg/KeyDoor-v0")
    p.add_argument("--split", default="test", help="task-list split (see leaderboard/README.md)")
    p.add_argument("--episodes", type=int, default=None, metavar="N",
                   help="play only the first N tasks (quick check; not a valid leaderboard entry)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="evaluation seeds (default: 0)")
    p.add_argument("--out", default=None,
                   help="entry path (default leaderboard/results/<env>/<agent>_<split>.json)")
    p.add_argument("--batch-size", type=int, default=16, help="episodes per batch (resume unit)")
    p.add_argument("--max-steps", type=int, default=None, help="episode step limit (default: the env's)")
    p.add_argument("--env-kwargs", default="{}", help="extra env kwargs as JSON (e.g. a data_dir)")
    p.add_argument("--fresh", action="store_true", help="discard an interrupted run instead of resuming it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the entry's metrics as JSON")
    args = p.parse_args(argv)
    try:
        env_kwargs = json.loads(args.env_kwargs)
        if not isinstance(env_kwargs, dict):
            raise ValueError("--env-kwargs must be a JSON object")
        entry = evaluate(args.agent, args.env, split=args.split, limit=args.episodes, seeds=args.seeds,
                         out=args.out, batch_size=args.batch_size, max_steps=args.max_steps,
                         env_kwargs=env_kwargs, progress=not args.no_progress, fresh=args.fresh,
                         command=shlex.join(["empg-eval", *argv]))
    except KeyboardInterrupt:
        print("\nempg-eval: interrupted; finished episodes are saved, run the same command to resume",
              file=sys.stderr)
        return 130
    except (RunMismatch, KeyError, ValueError, FileNotFoundError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"empg-eval: {msg}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({k: entry[k] for k in ("metrics", "per_type", "per_source", "per_seed")}, indent=2))
    else:
        print(summary_text(entry))
    out = args.out or default_out(args.env, entry["agent"]["name"], args.split)
    print(f"entry: {out}")
    return 0
