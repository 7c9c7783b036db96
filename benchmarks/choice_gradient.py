"""Cost of ``choice_gradient: choice`` vs ``tokens`` (choose mode), side by side, on one real batch.

    python benchmarks/choice_gradient.py --suite cpu --env alfworld --start runs/bench/cpu/starts/alfworld \
        [--method grpo] [--iteration 2] [--repeats 2]

One rollout of the suite's merged TrainConfig for (env, method) from the start (iteration ``--iteration``'s
task draw and seeds; the env must act in ``action_mode: choose``). Then, alternating, ``--repeats`` times each
and from the same weights and optimizer state: the step table, the scoring pass and the update with the token
loss (``tokens``) and with the choice's log-prob (``choice``). Prints and writes
(``benchmarks/results/choice_gradient_<env>.json``) the wall and process CPU seconds of scoring and update in
both modes, the rows trained as a choice, the mean candidates per chosen step, and each mode's mean step
entropy (mean token entropy of the chosen action vs entropy of the choice distribution).
"""

from __future__ import annotations

import dataclasses
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

    def acts_by_choice(fields, t):
        if fields.get("action_mode") != "choose":
            raise SystemExit(f"{args.suite}/{args.env} does not act in action_mode 'choose': nothing to compare")

    load0 = os.getloadavg()
    with rolled_out(args, check=acts_by_choice, choice_gradient="tokens") as (suite, env, method, t, rollout):
        trajs, rewards, stats = rollout
        cfgs = {m: dataclasses.replace(t.cfg, choice_gradient=m) for m in ("tokens", "choice")}
        restore = weights_and_optimizer(t)
        times: dict[str, dict[str, list[tuple[float, float]]]] = {m: {"scoring": [], "update": []} for m in cfgs}
        info: dict[str, dict[str, float]] = {}
        for _ in range(args.repeats):
            for mode, cfg in cfgs.items():
                restore()
                t.cfg = cfg
                batch = t.step_batch(trajs, rewards)
                w, c = time.perf_counter(), time.process_time()
                with torch.no_grad():
                    scored = t.score(batch)
                times[mode]["scoring"].append((time.perf_counter() - w, time.process_time() - c))
                batch = t.attach_scores(batch, scored)
                scored = t.estimate(batch, scored)
                w, c = time.perf_counter(), time.process_time()
                t.update(args.iteration, batch, scored)
                times[mode]["update"].append((time.perf_counter() - w, time.process_time() - c))
                chosen = [ch for ch in (batch.choices if batch.choices is not None else []) if ch is not None]
                info[mode] = {
                    "rows": len(batch),
                    "rows_as_choice": len(chosen),
                    "mean_candidates": float(np.mean([len(ch.candidates) for ch in chosen])) if chosen else 0.0,
                    "mean_step_entropy": float(np.mean(scored.step_entropy)),
                    "rows_nonzero_advantage": float(np.mean(np.asarray(scored.advantages) != 0)),
                }
    load1 = os.getloadavg()
    mean = {m: {ph: [float(np.mean([x[i] for x in v])) for i in (0, 1)] for ph, v in d.items()}
            for m, d in times.items()}
    res = {
        "suite": suite.name, "env": env.name, "method": method, "iteration": args.iteration,
        "groups_informative": stats.get("groups_informative"),
        "wall_s": {m: {ph: v[0] for ph, v in d.items()} for m, d in mean.items()},
        "cpu_s": {m: {ph: v[1] for ph, v in d.items()} for m, d in mean.items()},
        "cpu_ratio_choice_over_tokens": {ph: mean["choice"][ph][1] / max(mean["tokens"][ph][1], 1e-9)
                                         for ph in ("scoring", "update")},
        "modes": info, "repeats": args.repeats, "loadavg_before": load0, "loadavg_after": load1,
        "command": f"python benchmarks/choice_gradient.py --suite {args.suite} --env {args.env} --method {method} "
                   f"--start {args.start} --iteration {args.iteration} --repeats {args.repeats}",
    }
    print(f"{suite.name}/{env.name}/{method}, iteration {args.iteration}'s batch: {info['tokens']['rows']} rows, "
          f"{info['choice']['rows_as_choice']} chosen from a list (mean {info['choice']['mean_candidates']:.1f} "
          f"candidates); load {load0[0]:.1f} -> {load1[0]:.1f}")
    print("| choice_gradient | scoring wall s | scoring CPU s | update wall s | update CPU s | mean step entropy |")
    print("|---|---|---|---|---|---|")
    for m, d in mean.items():
        print(f"| {m} | {d['scoring'][0]:.2f} | {d['scoring'][1]:.2f} | {d['update'][0]:.2f} | {d['update'][1]:.2f} "
              f"| {info[m]['mean_step_entropy']:.3f} |")
    r = res["cpu_ratio_choice_over_tokens"]
    print(f"CPU ratio choice / tokens: scoring {r['scoring']:.2f}, update {r['update']:.2f}")
    out = args.out or str(Path(__file__).parent / "results" / f"choice_gradient_{env.name}.json")
    write_json_atomic(out, res, indent=1)
    print(f"wrote {out}")
    print(json.dumps(res["cpu_s"]))


if __name__ == "__main__":
    main()
