"""Cost of the update with and without the rows whose advantage is zero, side by side, on a real batch.

    python benchmarks/update_skip.py --suite cpu --env alfworld --start runs/bench/cpu/starts/alfworld \
        [--method grpo] [--iteration 2] [--repeats 2]

One rollout of the suite's merged TrainConfig for (env, method) from the start (iteration ``--iteration``'s
task draw and seeds), scored and estimated once; then, from the same weights and optimizer state each time,
the update with ``skip_zero_advantage_rows`` on and off, alternating, ``--repeats`` times each. Prints and
writes (``benchmarks/results/update_skip_<env>.json``) the share of rows with a non-zero advantage, the
update's wall and process CPU seconds in both modes, their ratio, and the largest weight difference between
the two modes' results (the update is the same; the difference is float rounding from other padding).
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import numpy as np
from _suite_run import batch_parser, rolled_out, weights_and_optimizer


def main() -> None:
    args = batch_parser(__doc__).parse_args()
    import torch

    from empg_gym._io import write_json_atomic
    from empg_gym.trainers.pg import PGTrainer

    def has_no_value_loss(fields, t):
        if type(t).extra_loss is not PGTrainer.extra_loss:
            raise SystemExit(f"{fields['estimator']!r} has a value loss on every row: nothing is skipped")

    load0 = os.getloadavg()
    with rolled_out(args, check=has_no_value_loss) as (suite, env, method, t, (trajs, rewards, stats)):
        batch = t.step_batch(trajs, rewards)
        with torch.no_grad():
            scored = t.score(batch)
        batch = t.attach_scores(batch, scored)
        scored = t.estimate(batch, scored)
        adv = np.asarray(scored.advantages)
        live = scored.live
        nonzero = float(np.mean(adv[live] != 0)) if len(live) else 0.0
        w0 = copy.deepcopy(t.model.state_dict())
        restore = weights_and_optimizer(t)
        times: dict[str, list[tuple[float, float]]] = {"skip": [], "all rows": []}
        weights: dict[str, dict[str, torch.Tensor]] = {}
        for _ in range(args.repeats):
            for mode in ("skip", "all rows"):
                restore()
                t.skip_zero_advantage_rows = mode == "skip"
                w, c = time.perf_counter(), time.process_time()
                t.update(args.iteration, batch, scored)
                times[mode].append((time.perf_counter() - w, time.process_time() - c))
                weights[mode] = {k: v.detach().clone() for k, v in t.model.state_dict().items()}
        diff = max(float((weights["skip"][k] - weights["all rows"][k]).abs().max()) for k in w0)
        moved = max(float((weights["all rows"][k] - w0[k]).abs().max()) for k in w0)
    load1 = os.getloadavg()
    mean = {m: (float(np.mean([x[0] for x in v])), float(np.mean([x[1] for x in v]))) for m, v in times.items()}
    res = {
        "suite": suite.name, "env": env.name, "method": method, "iteration": args.iteration,
        "rows": len(live), "rows_nonzero_share": nonzero,
        "groups_informative": stats.get("groups_informative"),
        "update_wall_s": {m: v[0] for m, v in mean.items()},
        "update_cpu_s": {m: v[1] for m, v in mean.items()},
        "cpu_ratio_all_over_skip": mean["all rows"][1] / max(mean["skip"][1], 1e-9),
        "max_weight_diff": diff, "max_weight_change": moved,
        "repeats": args.repeats, "loadavg_before": load0, "loadavg_after": load1,
        "command": f"python benchmarks/update_skip.py --suite {args.suite} --env {args.env} --method {method} "
                   f"--start {args.start} --iteration {args.iteration} --repeats {args.repeats}",
    }
    print(f"{suite.name}/{env.name}/{method}, iteration {args.iteration}'s batch: {len(live)} rows, "
          f"{nonzero:.0%} with a non-zero advantage; load {load0[0]:.1f} -> {load1[0]:.1f}")
    print("| update | wall s | process CPU s |")
    print("|---|---|---|")
    for m, (w, c) in mean.items():
        print(f"| {m} | {w:.2f} | {c:.2f} |")
    print(f"CPU ratio (all rows / skip): {res['cpu_ratio_all_over_skip']:.2f}; largest weight difference "
          f"{diff:.2e} (largest weight change {moved:.2e})")
    out = args.out or str(Path(__file__).parent / "results" / f"update_skip_{env.name}.json")
    write_json_atomic(out, res, indent=1)
    print(f"wrote {out}")
    print(json.dumps(res["update_cpu_s"]))


if __name__ == "__main__":
    main()
