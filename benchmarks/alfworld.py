"""Speed and memory of the ALFWorld simulator vs alfworld's TextWorld engine on the same games.

    python benchmarks/alfworld.py [--generated 20] [--real 20] [--steps 40] [--seed 0]

Both engines replay the same command sequences (the expert's commands mixed with 30% random admissible ones
and a few inadmissible ones, recorded on our simulator). Timed per engine, at the gym level:

- ``reset``: load the game and produce the first observation (ours: ``ALFWorldEnv.reset``, games cached
  after first use as in training; TextWorld: ``register_game`` + ``make`` + ``reset`` with alfworld's
  wrappers, and a second ``reset`` of the same env);
- ``step``: one command including the admissible commands and the won flag (ours: ``ALFWorldEnv.step``;
  TextWorld: ``env.step`` with ``AlfredDemangler``/``AlfredInfos``);
- memory: tracemalloc peak of one env after reset (ours) and the RSS growth per env (both).

Real games come from ``$ALFWORLD_DATA``; generated games are exported. Needs the ``alfworld`` extra for the
TextWorld side (without it only our numbers are printed). Writes ``benchmarks/results/alfworld.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# This folder holds alfworld.py, which would shadow the alfworld package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from empg_gym._io import write_json_atomic  # noqa: E402
from empg_gym._optional import is_available  # noqa: E402
from empg_gym.envs.alfworld.env import ALFWorldEnv  # noqa: E402
from empg_gym.envs.alfworld.expert import expert_action, task_params  # noqa: E402
from empg_gym.envs.alfworld.world import World  # noqa: E402


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def record_commands(game, rng: random.Random, n: int) -> list[str]:
    """A command sequence played on our simulator: expert, random admissible and a few invalid commands."""
    w = World(game)
    params = task_params(game.problem.goal)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.05:
            cmd = "jump"
        elif r < 0.35:
            cmd = rng.choice(w.admissible())
        else:
            cmd = expert_action(w, params)
        out.append(cmd)
        w.step(cmd)
        if w.won():
            w.reset()  # keep playing the same game from the start, both engines do the same
            out.append("__reset__")
    return out


def bench(
    kind: str, env: ALFWorldEnv, files: list[str], n_steps: int, rng: random.Random, use_tw: bool
) -> dict:
    res: dict = {"games": len(env.games), "ours": {}, "textworld": {}}
    seqs = [record_commands(env.games.game(i), rng, n_steps) for i in range(len(env.games))]
    # --- ours
    for i in range(len(env.games)):  # warm the game cache (parsing happens once per process in training)
        env.reset(options={"task_index": i})
    t_reset, n_reset, t_step, n_step = 0.0, 0, 0.0, 0
    for i, seq in enumerate(seqs):
        t = time.perf_counter()
        env.reset(options={"task_index": i})
        t_reset += time.perf_counter() - t
        n_reset += 1
        for cmd in seq:
            t = time.perf_counter()
            if cmd == "__reset__":
                env.reset(options={"task_index": i})
            else:
                env.step(cmd)
            t_step += time.perf_counter() - t
            n_step += 1
    # cold load (parse/generate + reset), measured on fresh GameSets
    t = time.perf_counter()
    cold = ALFWorldEnv(
        split=env.games.split, source=env.games.source, data_dir=env.games.data_dir, num_games=len(env.games)
    )
    for i in range(len(cold.games)):
        cold.reset(options={"task_index": i})
    t_cold = (time.perf_counter() - t) / len(cold.games)
    res["ours"] = {
        "reset_s": t_reset / n_reset,
        "cold_reset_s": t_cold,
        "step_s": t_step / n_step,
        "steps_per_s": n_step / t_step,
        "steps": n_step,
    }
    if not use_tw:
        return res
    from empg_gym.envs.alfworld.tw import TWGame

    t_load = t_reset2 = t_step = 0.0
    n_step = 0
    for i, seq in enumerate(seqs):
        t = time.perf_counter()
        g = TWGame(files[i])
        g.reset()
        t_load += time.perf_counter() - t
        t = time.perf_counter()
        g.reset()
        t_reset2 += time.perf_counter() - t
        for cmd in seq:
            t = time.perf_counter()
            if cmd == "__reset__":
                g.reset()
            else:
                g.step(cmd)
            t_step += time.perf_counter() - t
            n_step += 1
        g.close()
    n = len(seqs)
    res["textworld"] = {
        "reset_s": t_reset2 / n,
        "cold_reset_s": t_load / n,
        "step_s": t_step / n_step,
        "steps_per_s": n_step / t_step,
        "steps": n_step,
    }
    res["speedup_step"] = res["textworld"]["step_s"] / res["ours"]["step_s"]
    res["speedup_reset"] = res["textworld"]["reset_s"] / res["ours"]["reset_s"]
    return res


def memory(env_kwargs: dict, files: list[str], use_tw: bool, n: int = 5) -> dict:
    out = {}
    gc.collect()
    tracemalloc.start()
    env = ALFWorldEnv(**env_kwargs)
    env.reset(options={"task_index": 0})
    out["ours_tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    gc.collect()
    r0 = rss_mb()
    envs = [ALFWorldEnv(**env_kwargs) for _ in range(n)]
    for k, e in enumerate(envs):
        e.reset(options={"task_index": k % len(e.games)})
    out["ours_rss_per_env_mb"] = (rss_mb() - r0) / n
    if use_tw:
        from empg_gym.envs.alfworld.tw import TWGame

        TWGame(files[0]).reset()  # imports and first-use allocations
        gc.collect()
        r0 = rss_mb()
        tws = [TWGame(files[k % len(files)]) for k in range(n)]
        for g in tws:
            g.reset()
        out["textworld_rss_per_env_mb"] = (rss_mb() - r0) / n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generated", type=int, default=20)
    ap.add_argument("--real", type=int, default=20)
    ap.add_argument("--steps", type=int, default=40, help="commands per game")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "alfworld.json"))
    argv = list(sys.argv[1:] if argv is None else argv)  # before textworld loads (it rewrites sys.argv)
    args = ap.parse_args(argv)
    use_tw = is_available("alfworld") and is_available("textworld")
    rng = random.Random(args.seed)
    results: dict = {}
    if args.generated:
        from empg_gym.envs.alfworld.tw import exported_game_file

        env = ALFWorldEnv(split="valid_seen", source="generated", num_games=args.generated)
        root = tempfile.mkdtemp(prefix="alfworld_bench_")
        files = [exported_game_file(env.games, i, root) for i in range(len(env.games))] if use_tw else []
        results["generated"] = bench("generated", env, files, args.steps, rng, use_tw)
        results["generated"]["memory"] = memory({"split": "valid_seen", "source": "generated"}, files, use_tw)
    data = os.environ.get("ALFWORLD_DATA")
    if args.real and data:
        env = ALFWorldEnv(split="valid_seen", data_dir=data, source="real", num_games=args.real)
        results["real"] = bench("real", env, env.games.files, args.steps, rng, use_tw)
        results["real"]["memory"] = memory(
            {"split": "valid_seen", "data_dir": data, "source": "real"}, env.games.files, use_tw
        )
    print(
        f"{'games':<10} {'engine':<10} {'steps/s':>10} {'ms/step':>9} {'reset ms':>9} {'cold reset ms':>14}"
    )
    for kind, r in results.items():
        for eng in ("ours", "textworld"):
            e = r.get(eng) or {}
            if e:
                print(
                    f"{kind:<10} {eng:<10} {e['steps_per_s']:>10.0f} {1e3 * e['step_s']:>9.3f} "
                    f"{1e3 * e['reset_s']:>9.2f} {1e3 * e['cold_reset_s']:>14.1f}"
                )
        if "speedup_step" in r:
            print(
                f"{kind:<10} speedup per step x{r['speedup_step']:.0f}, per reset x{r['speedup_reset']:.0f}"
            )
        print(f"{kind:<10} memory {json.dumps({k: round(v, 2) for k, v in r['memory'].items()})}")
    out = {
        "command": "python benchmarks/alfworld.py " + " ".join(argv),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }
    write_json_atomic(args.out, out, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
