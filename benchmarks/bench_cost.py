"""Measured cost of one benchmark run's iterations, and the projected wall time of a whole suite.

    python benchmarks/bench_cost.py --suite cpu --env alfworld --start runs/bench/cpu/starts/alfworld \
        [--method grpo] [--iterations 2] [--eval-seconds S]

Runs ``--iterations`` training iterations of (env, method) with exactly the suite's merged TrainConfig
(only ``iterations`` and ``output_dir`` changed; seed 0) from the given start, and reads the trainer's
per-phase times from ``metrics.jsonl``: rollout, scoring, estimator, update, checkpoint, total, and rollout
tokens/s. Projection (printed, and written to ``benchmarks/results/bench_cost_<env>.json``):

    run = suite iterations x mean iteration time + eval time of one checkpoint (``--eval-seconds``, e.g. the
          start's measured eval wall time; 0 when not given)
    suite (this env) = methods x seeds x run, on one core; the 2-family protocol runs the two families in two
          processes at once, so its wall time is the larger of the two families' totals.

The iteration time depends on the policy (episode lengths, invalid actions), so the first iterations from the
start are an estimate of later ones, not a measurement of them. Record the load average next to the numbers.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _suite_run import suite_run_fields, suite_run_parser

PHASES = ("time_rollout", "time_scoring", "time_estimator", "time_update", "time_checkpoint", "time_total")


def main() -> None:
    p = suite_run_parser(__doc__)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--eval-seconds", type=float, default=0.0, help="measured eval time of one checkpoint")
    args = p.parse_args()
    from empg_gym._io import write_json_atomic
    from empg_gym.trainers import train
    from empg_gym.trainers.checkpoint import read_metrics
    from empg_gym.trainers.config import from_dict

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        suite, env, method, fields = suite_run_fields(args, Path(tmp) / "run")
        planned = int(fields.get("iterations", 150))
        fields.update(iterations=args.iterations, save_every=args.iterations)
        t0, c0 = time.perf_counter(), time.process_time()
        train(from_dict(fields))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = read_metrics(Path(tmp) / "run" / "metrics.jsonl")
    load1 = os.getloadavg()
    per = {k: float(np.mean([r.get(k, 0.0) for r in rows])) for k in PHASES}
    tok = sum(r.get("tokens", 0) for r in rows)
    troll = sum(r.get("time_rollout", 0.0) for r in rows)
    run_s = planned * per["time_total"] + args.eval_seconds
    n_runs = sum(1 for e, _, _ in suite.runs() if e.name == env.name)  # the env's own method list
    res = {
        "suite": suite.name,
        "env": env.name,
        "method": method,
        "iterations_measured": len(rows),
        "per_iteration": per,
        "rollout_tokens_per_s": tok / troll if troll else None,
        "episodes_per_iteration": float(np.mean([r.get("episodes", 0) for r in rows])),
        "steps_per_iteration": float(np.mean([r.get("steps", 0) for r in rows])),
        "episode_length": float(np.mean([r.get("episode_length", 0) for r in rows])),
        "success": [r.get("success") for r in rows],
        "wall_s": wall,
        "cpu_s": cpu,
        "loadavg_before": load0,
        "loadavg_after": load1,
        "eval_seconds": args.eval_seconds,
        "projected_run_s": run_s,
        "runs_in_suite_env": n_runs,
        "projected_env_total_s": n_runs * run_s,
        "command": f"python benchmarks/bench_cost.py --suite {args.suite} --env {args.env} --method {method} "
        f"--start {args.start} --iterations {args.iterations} --eval-seconds {args.eval_seconds}",
    }
    print(f"{suite.name}/{env.name}/{method}: {len(rows)} iterations, load {load0[0]:.1f} -> {load1[0]:.1f}")
    print(
        f"  wall {wall:.0f}s, process CPU {cpu:.0f}s (CPU/wall {cpu / wall:.2f}: the share of a core it got)"
    )
    print("  per iteration: " + ", ".join(f"{k[5:]} {v:.2f}s" for k, v in per.items()))
    print(
        f"  rollout tokens/s {res['rollout_tokens_per_s']:.0f}; "
        f"steps/iteration {res['steps_per_iteration']:.0f}; "
        f"episode length {res['episode_length']:.1f}; success {res['success']}"
    )
    print(
        f"  projected: one run ({planned} iterations + eval) {run_s / 60:.1f} min; {n_runs} runs of this env "
        f"{n_runs * run_s / 3600:.2f} h on one core"
    )
    out = args.out or str(Path(__file__).parent / "results" / f"bench_cost_{env.name}.json")
    write_json_atomic(out, res, indent=1)
    print(f"wrote {out}")
    print(json.dumps(per))


if __name__ == "__main__":
    main()
