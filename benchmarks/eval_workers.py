"""``empg-eval --workers N`` vs one process: wall time of the same evaluation with an LLM agent on a real env.

Both runs play the same task list slice, seeds and batches and must give the same entry (checked here too);
only the wall time differs. The single-process run uses ``--threads`` torch threads; each Ray worker gets one
CPU (Ray sets ``OMP_NUM_THREADS=1`` in an actor with ``num_cpus=1``), so on a 2-core machine 2 workers use
the same cores as the 2-thread single process. Worker start-up (Ray start, model load per worker) is
included in the wall time and reported apart.

    python benchmarks/eval_workers.py                                   # SmolLM2-135M on ALFWorld
    python benchmarks/eval_workers.py --env empg/WebShop-v0 --episodes 4

Ray starts its worker processes at a higher niceness (lower CPU priority) than the driver unless
``RAY_worker_niceness=0`` (seen here: driver at 7, workers at 19); on a shared, loaded machine that alone
decides the comparison, so run with ``RAY_worker_niceness=0`` (recorded in the JSON).

Writes ``benchmarks/results/eval_workers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from empg_gym._io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "eval_workers.json"
VOLATILE = ("date", "command", "git_commit", "wall_time_s")


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agent", default="smollm2-135m")
    p.add_argument("--env", default="empg/ALFWorld-v0")
    p.add_argument("--split", default="test")
    p.add_argument("--env-kwargs", default=json.dumps({"data_dir": "/work/shared/data/alfworld"}))
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, default=2, help="torch threads of the single-process run")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()

    import tempfile

    import torch

    from empg_gym.eval.harness import evaluate
    from empg_gym.policy import load_spec

    spec = load_spec(args.agent)
    spec = spec.replace(sampling={**dict(spec.sampling), "max_new_tokens": args.max_new_tokens})
    rows, entries = [], {}
    for w in args.workers:
        torch.set_num_threads(args.threads if w == 1 else 1)
        before = load()
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            entry = evaluate(
                spec,
                args.env,
                split=args.split,
                limit=args.episodes,
                batch_size=args.batch_size,
                max_steps=args.max_steps,
                env_kwargs=json.loads(args.env_kwargs),
                progress=False,
                out=Path(tmp) / "e.json",
                workers=w,
            )
            wall = time.perf_counter() - t0
        entries[w] = {k: v for k, v in entry.items() if k not in VOLATILE}
        tokens = sum(r["tokens"] for r in entry["per_episode"])
        row = {
            "workers": w,
            "wall_s": round(wall, 2),
            "batch_s_sum": round(entry["wall_time_s"], 2),
            "episodes": entry["episodes"],
            "tokens": tokens,
            "tokens_per_s": round(tokens / wall, 2),
            "success": entry["metrics"]["success"]["mean"],
            "load_before": before,
            "load_after": load(),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    same = all(entries[w] == entries[args.workers[0]] for w in args.workers)
    base = rows[0]["wall_s"]
    print(
        f"\n{args.agent} on {args.env} [{args.split}], {args.episodes} episodes, batch {args.batch_size}, "
        f"max {args.max_steps} steps, {args.max_new_tokens} new tokens; entries identical: {same}"
    )
    print(f"{'workers':>7} {'wall s':>8} {'sum batch s':>11} {'tok/s':>7} {'speed-up':>8}")
    for r in rows:
        print(
            f"{r['workers']:>7} {r['wall_s']:>8.1f} {r['batch_s_sum']:>11.1f} {r['tokens_per_s']:>7.1f} "
            f"{base / r['wall_s']:>8.2f}"
        )
    write_json_atomic(
        Path(args.out),
        {
            "benchmark": "eval_workers",
            "args": vars(args),
            "entries_identical": same,
            "rows": rows,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "nice": os.nice(0),
                    "RAY_worker_niceness": os.environ.get("RAY_worker_niceness"), "torch": torch.__version__},
        },
    )


if __name__ == "__main__":
    main()
