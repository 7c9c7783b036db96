"""Batched vs one-env-at-a-time rollout: tokens/s and episodes/s with the same model, envs, tasks and seeds.

Batched = ``collect(..., batch_size=None)``: every turn, one decode loop over all live episodes.
Sequential = ``collect(..., batch_size=1)``: one episode at a time, one prompt per decode loop.
Both play the same tasks with the same seeds and sampling settings; the ratio of tokens/s is the number
DESIGN.md asks for (goal >= 4x).

    python benchmarks/rollout.py                        # tiny random model + SmolLM2-135M, KeyDoor
    python benchmarks/rollout.py --configs tiny tiny-G4 # tiny only (seconds)
    python benchmarks/rollout.py --threads 2

Writes ``benchmarks/results/rollout.json``.
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

RESULTS = Path(__file__).resolve().parent / "results" / "rollout.json"

TINY = {"backend": "transformers", "model": "tiny:qwen2", "name": "tiny-qwen2"}
#: label -> (model, agent spec, tasks, group_size, max_steps, max_new_tokens)
CONFIGS = {
    "tiny": ("tiny", TINY, 32, 1, 4, 32),
    "tiny-G4": ("tiny", TINY, 8, 4, 4, 32),
    "smollm2": ("smollm2-135m", "smollm2-135m", 8, 1, 2, 48),
    "smollm2-G4": ("smollm2-135m", "smollm2-135m", 2, 4, 2, 48),
    # generation only (no env): 8 distinct short chat prompts, 64 new tokens each, no stop strings
    "smollm2-gen": ("smollm2-135m", "smollm2-135m", 8, 0, 0, 64),
    "smollm2-gen16": ("smollm2-135m", "smollm2-135m", 16, 0, 0, 64),
}
MODELS = sorted({c[0] for c in CONFIGS.values()})


def run(agent, env_id: str, tasks: int, group_size: int, max_steps: int, batch_size: int | None,
        seed: int) -> dict:
    from empg_gym.rollout import collect

    t = time.perf_counter()
    trajs = collect(agent, env_id, tasks=tasks, group_size=group_size, seed=seed, max_steps=max_steps,
                    batch_size=batch_size, progress=False)
    dt = time.perf_counter() - t
    tokens = sum(len(x.token_ids) for tr in trajs for x in tr.turns)
    turns = sum(len(tr) for tr in trajs)
    return {"seconds": dt, "tokens": tokens, "turns": turns, "episodes": len(trajs),
            "tokens_per_s": tokens / dt, "episodes_per_s": len(trajs) / dt, "turns_per_s": turns / dt,
            "format_valid": sum(x.format_valid for tr in trajs for x in tr.turns) / max(turns, 1)}


def run_generate(agent, n: int, max_new: int, batched: bool, seed: int) -> dict:
    """Decode-dominated regime: ``n`` short distinct prompts, one batch vs one at a time."""
    import torch

    from empg_gym.policy.hf import sample

    tok = agent.tokenizer
    msgs = [[{"role": "user", "content": f"Write a short story about room {i}."}] for i in range(n)]
    texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in msgs]
    prompts = [tok(x, add_special_tokens=False)["input_ids"] for x in texts]
    gen = torch.Generator().manual_seed(seed)
    t = time.perf_counter()
    if batched:
        outs = sample(agent.model, tok, prompts, max_new_tokens=max_new, generator=gen, stop=())
    else:
        outs = [sample(agent.model, tok, [p], max_new_tokens=max_new, generator=gen, stop=())[0]
                for p in prompts]
    dt = time.perf_counter() - t
    tokens = sum(len(o.token_ids) for o in outs)
    return {"seconds": dt, "tokens": tokens, "turns": n, "episodes": n, "tokens_per_s": tokens / dt,
            "episodes_per_s": n / dt, "turns_per_s": n / dt, "prompt_tokens": sum(map(len, prompts))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS),
                   help="G4 = 4 copies per task (group rollouts: identical first prompts share one prefill)")
    p.add_argument("--env", default="empg/KeyDoor-v0")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest on a shared 2-core box)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    from empg_gym.policy import load_agent

    torch.set_num_threads(args.threads)
    rows = []
    agents: dict[str, tuple[object, float]] = {}
    for label in args.configs:
        model, spec, tasks, group, max_steps, max_new = CONFIGS[label]
        if model not in agents:
            agents.clear()
            t = time.perf_counter()
            agent = load_agent(spec, sampling={"max_new_tokens": max_new, "temperature": 1.0})
            agents[model] = (agent, time.perf_counter() - t)
            run(agent, args.env, 1, 1, 1, None, args.seed + 999)  # warm-up
        agent, load_s = agents[model]
        if group == 0:  # generation only
            batched = run_generate(agent, tasks, max_new, True, args.seed)
            seq = run_generate(agent, tasks, max_new, False, args.seed)
        else:
            batched = run(agent, args.env, tasks, group, max_steps, None, args.seed)
            seq = run(agent, args.env, tasks, group, max_steps, 1, args.seed)
        rows.append({"config": label, "model": model, "load_s": load_s, "tasks": tasks, "group_size": group,
                     "max_steps": max_steps, "max_new_tokens": max_new, "batched": batched, "sequential": seq,
                     "tokens_per_s_ratio": batched["tokens_per_s"] / seq["tokens_per_s"],
                     "episodes_per_s_ratio": batched["episodes_per_s"] / seq["episodes_per_s"]})

    table = Table(title=f"rollout on {args.env} ({args.threads} torch thread(s))")
    for col in ("config", "mode", "episodes", "turns", "tokens", "s", "tok/s", "episodes/s", "ratio tok/s"):
        table.add_column(col, justify="right")
    for r in rows:
        for mode in ("batched", "sequential"):
            m = r[mode]
            ratio = f"{r['tokens_per_s_ratio']:.1f}x" if mode == "batched" else ""
            table.add_row(r["config"], mode, str(m["episodes"]), str(m["turns"]), str(m["tokens"]),
                          f"{m['seconds']:.1f}", f"{m['tokens_per_s']:.1f}", f"{m['episodes_per_s']:.3f}",
                          ratio)
    Console(width=140).print(table)

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    out = {"env": args.env, "threads": args.threads, "seed": args.seed, "rows": rows, "commit": commit,
           "machine": f"{platform.machine()} {os.cpu_count()} cpus", "torch": torch.__version__,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": f"python benchmarks/rollout.py --configs {' '.join(args.configs)} "
                      f"--threads {args.threads}"}
    path = Path(args.out)
    if path.is_file():  # keep the rows of configs not re-run now
        old = json.loads(path.read_text())
        done = {r["config"] for r in rows}
        kept = [r for r in old.get("rows", []) if r.get("config") not in done]
        if kept:
            out["rows"] = kept + rows
            out["earlier_runs"] = old.get("earlier_runs", []) + [{k: old.get(k) for k in ("date", "commit",
                                                                                          "command")}]
    write_json_atomic(path, out, indent=2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
