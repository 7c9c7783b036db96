"""Rollout env work in-process vs in Ray env workers (``collect(env_workers=...)``) on ALFWorld and WebShop.

The agent is the env's scripted expert, so the rollout's time is env time (reset + step + the expert's
action) plus the pool's transport; no generation. Each mode plays the same episodes (checked: identical
trajectories). Every pool (in-process ``LocalEnvs`` or Ray ``RayEnvs``) is made once and warmed up with one
rollout, as a trainer keeps its envs across iterations; the median of ``--repeats`` timed rollouts follows.

    python benchmarks/env_workers.py
    python benchmarks/env_workers.py --episodes 32 --envs alfworld

Ray starts its worker processes at a higher niceness (lower CPU priority) than the driver unless
``RAY_worker_niceness=0`` (seen here: driver at 7, workers at 19); on a shared, loaded machine that alone
decides the comparison, so run with ``RAY_worker_niceness=0`` (recorded in the JSON).

Writes ``benchmarks/results/env_workers.json``. Also reports the in-process env time per step, the number
the cost model in docs/scale.md uses.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

from empg_gym._io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "env_workers.json"
ENVS = {
    "alfworld": ("empg/ALFWorld-v0", {"split": "valid_unseen", "data_dir": "/work/shared/data/alfworld"}),
    "webshop": ("empg/WebShop-v0", {"split": "test", "data_dir": "/work/shared/data/webshop"}),
}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(agent, env_id, kwargs, n, batch, max_steps, pool) -> tuple[float, list]:
    from empg_gym.rollout import collect

    t0 = time.perf_counter()
    trajs = collect(
        agent,
        env_id,
        tasks=[{"task_index": i} for i in range(n)],
        seed=0,
        env_kwargs=kwargs,
        batch_size=batch,
        max_steps=max_steps,
        progress=False,
        env_workers=pool,
    )
    return time.perf_counter() - t0, trajs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--max-steps", type=int, default=30)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=5, help="timed rollouts per mode (the median is reported)")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()

    import ray

    from empg_gym.env_workers import LocalEnvs, RayEnvs
    from empg_gym.policy import load_agent

    ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False)
    rows = []
    for name in args.envs:
        env_id, kwargs = ENVS[name]
        agent = load_agent("expert")
        n = args.episodes
        timed(agent, env_id, kwargs, n, n, args.max_steps, None)  # warm-up: data loads, index builds, caches
        # in-process env time per step, measured apart from the rollout loop
        local = LocalEnvs(env_id, kwargs, args.max_steps, True, 1)
        t_reset = t_step = 0.0
        steps = 0
        for i in range(n):
            t0 = time.perf_counter()
            _, info = local.reset([(0, i, {"task_index": i})])[0]
            t_reset += time.perf_counter() - t0
            done = False
            while not done:
                t0 = time.perf_counter()
                _, _, term, trunc, info = local.step([(0, info["expert_action"])])[0]
                t_step += time.perf_counter() - t0
                steps += 1
                done = term or trunc
        local.close()
        ref = None
        for label, w in [("in-process", 0)] + [(f"ray x{w}", w) for w in args.workers]:
            # one pool at a time (each actor holds a CPU); made and warmed up before the timed rollout
            pool = (RayEnvs(env_id, kwargs, args.max_steps, True, n, workers=w) if w
                    else LocalEnvs(env_id, kwargs, args.max_steps, True, n))
            timed(agent, env_id, kwargs, n, n, args.max_steps, pool)  # warm-up: the envs' caches fill
            before = load()
            times = []
            for _ in range(args.repeats):
                dt, trajs = timed(agent, env_id, kwargs, n, n, args.max_steps, pool)
                times.append(dt)
            dt = sorted(times)[len(times) // 2]
            pool.close()
            if ref is None:
                ref = trajs
            turns = sum(len(t) for t in trajs)
            rows.append({"env": name, "mode": label, "episodes": n, "turns": turns, "seconds": round(dt, 3),
                         "turns_per_s": round(turns / dt, 1), "identical": trajs == ref,
                         "won": sum(t.won for t in trajs), "load_before": before, "load_after": load(),
                         "env_step_ms": round(1000 * t_step / steps, 3),
                         "env_reset_ms": round(1000 * t_reset / n, 3)})
    ray.shutdown()
    print(
        f"\n{'env':<9} {'mode':<11} {'turns':>6} {'seconds':>8} {'turns/s':>8} {'same':>5}  "
        f"in-process step / reset ms"
    )
    for r in rows:
        print(
            f"{r['env']:<9} {r['mode']:<11} {r['turns']:>6} {r['seconds']:>8.3f} {r['turns_per_s']:>8.1f} "
            f"{str(r['identical']):>5}  {r['env_step_ms']:.3f} / {r['env_reset_ms']:.3f}"
        )
    print(f"load: {load()}")
    write_json_atomic(
        Path(args.out),
        {
            "benchmark": "env_workers",
            "args": vars(args),
            "rows": rows,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "nice": os.nice(0),
                    "RAY_worker_niceness": os.environ.get("RAY_worker_niceness")},
        },
    )


if __name__ == "__main__":
    main()
