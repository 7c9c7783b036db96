"""Speed of the advantage estimators on a large synthetic batch (default: 1M steps).

    python benchmarks/estimators.py [--steps 1000000] [--repeats 3]

Prints a table and writes benchmarks/results/estimators.json. The batch: groups of 8 trajectories,
lengths uniform in 1..40 turns, sparse terminal 0/1 rewards, gamma-distributed step entropies, critic
values, anchors drawn from 50 states per group (GiGPO). Steps are in trajectory order, as
``StepBatch.from_trajectories`` produces them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from empg_gym import advantages
from empg_gym._io import write_json_atomic
from empg_gym.types import StepBatch


def make_batch(n_steps: int, seed: int = 0) -> StepBatch:
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, 41, size=n_steps // 20 + 16)
    lens = lens[: np.searchsorted(np.cumsum(lens), n_steps) + 1]
    lens[-1] -= lens.sum() - n_steps
    lens = lens[lens > 0]
    t = len(lens)
    traj_id = np.repeat(np.arange(t), lens)
    ends = np.cumsum(lens) - 1
    step = np.arange(n_steps) - np.repeat(ends - lens + 1, lens)
    group_id = traj_id // 8
    reward = np.zeros(n_steps)
    reward[ends] = rng.integers(0, 2, size=t)
    term = np.zeros(n_steps, bool)
    term[ends] = True
    anchor = np.empty(n_steps, dtype=object)
    anchor[:] = (group_id * 50 + rng.integers(0, 50, size=n_steps)).tolist()
    return StepBatch(traj_id, step, group_id, reward, term, np.zeros(n_steps, bool),
                     rng.gamma(2.0, 0.5, size=n_steps), rng.normal(size=n_steps), anchor)


CASES = [
    ("grpo", {}), ("grpo", {"scale_std": False}), ("rloo", {}),
    ("reinforce_pp", {"gamma": 0.95, "protocol": "trajectory"}), ("gigpo", {}),
    ("gae", {"gamma": 0.99, "lam": 0.95, "protocol": "trajectory"}), ("empg", {}),
    ("empg", {"final_norm": "mean_std"}),
]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "estimators.json"))
    args = p.parse_args()
    b = make_batch(args.steps)
    rows = []
    for name, kw in CASES:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = advantages.get(name)(b, **kw)
            times.append(time.perf_counter() - t0)
        assert out.shape == (args.steps,) and np.all(np.isfinite(out))
        rows.append({"estimator": name, "kwargs": kw, "best_s": min(times),
                     "median_s": float(np.median(times))})
    grpo_t = next(r["best_s"] for r in rows if r["estimator"] == "grpo" and not r["kwargs"])
    empg_t = next(r["best_s"] for r in rows if r["estimator"] == "empg" and not r["kwargs"])
    print(f"{args.steps:,} steps, {len(np.unique(b.traj_id)):,} trajectories, best of {args.repeats}")
    print(f"{'estimator':<14}{'kwargs':<34}{'best s':>10}{'median s':>10}")
    for r in rows:
        print(f"{r['estimator']:<14}{json.dumps(r['kwargs']):<34}{r['best_s']:>10.4f}{r['median_s']:>10.4f}")
    print(f"EMPG's own cost on top of GRPO: {empg_t - grpo_t:.4f} s")
    res = {"steps": args.steps, "repeats": args.repeats, "rows": rows, "empg_minus_grpo_s": empg_t - grpo_t,
           "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count()},
           "command": "python benchmarks/estimators.py " + f"--steps {args.steps} --repeats {args.repeats}"}
    out = Path(args.out)
    write_json_atomic(out, res, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
