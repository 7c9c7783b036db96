"""Learning benchmark: GRPO vs EMPG (on top of GRPO) from the same start, several seeds, toy envs, CPU.

    python benchmarks/learning.py [--envs keydoor guessnumber] [--seeds 0 1 2] [--iterations 30]
                                  [--methods grpo empg] [--workdir /tmp/empg_learning]

Per env and seed: a tiny random model (seeded) is behaviour-cloned on a *noisy* expert (expert action with
probability 0.5, else a random admissible action; see ``empg_gym.trainers.sft``) so that it writes the
``<think>/<action>`` format but plays poorly; that model is the common start. Each method then trains from it
with the shared trainer and identical settings (only ``estimator`` differs), with the same seed. Success is
the on-policy rollout success of each iteration (temperature 1, ``groups_per_batch x group_size``
episodes). Reported: the start (iteration 0) and the mean of the last 5 iterations per seed, mean over seeds
with a 95% t-interval, the per-iteration curves (mean and 95% interval over seeds) as PNG, and the trainer's
time per phase with the estimator's share. Writes benchmarks/results/learning.json and learning_<env>.png.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from empg_gym._io import write_json_atomic

ENVS = {
    # name: (env id, env kwargs, task pool, max turns, history length)
    "guessnumber": ("empg/GuessNumber-v0", {"n": 8}, 8, 6, 1),
    "keydoor": ("empg/KeyDoor-v0", {"size": 2, "num_tasks": 16}, 16, 10, 0),
}
METHODS = {
    "grpo": {"estimator": "grpo", "estimator_kwargs": {}},
    "empg": {"estimator": "empg", "estimator_kwargs": {"base": "grpo", "k": 1.0, "k_next": 1.0, "zeta": 0.1}},
}


def warm_start(env: str, seed: int, workdir: Path, bc_steps: int) -> Path:
    import torch

    from empg_gym.policy.tiny import tiny_model_and_tokenizer
    from empg_gym.trainers.sft import behaviour_clone

    path = workdir / f"start_{env}_s{seed}"
    if (path / "model.safetensors").is_file():
        return path
    env_id, kw, pool, turns, hist = ENVS[env]
    torch.set_num_threads(1)
    model, tok = tiny_model_and_tokenizer(seed=seed)
    stats = behaviour_clone(model, tok, env_id, episodes=64, env_kwargs=kw, max_steps=turns, expert_prob=0.5,
                            steps=bc_steps, batch_size=16, seed=seed, history_length=hist, num_tasks=pool)
    tmp = workdir / f".tmp_start_{env}_s{seed}"
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "bc_stats.json").write_text(json.dumps(stats))
    os.replace(tmp, path)
    return path


def run(env: str, method: str, seed: int, start: Path, workdir: Path, iterations: int) -> list[dict]:
    from empg_gym.trainers import train
    from empg_gym.trainers.checkpoint import read_metrics
    from empg_gym.trainers.config import TrainConfig

    env_id, kw, pool, turns, hist = ENVS[env]
    out = workdir / f"{env}_{method}_s{seed}"
    cfg = TrainConfig(env_id=env_id, env_kwargs=kw, task_pool=pool, max_steps=turns, model=str(start),
                      history_length=hist, max_new_tokens=24, temperature=1.0, groups_per_batch=8,
                      group_size=4,
                      lr=3e-4, minibatch_size=64, micro_batch_size=16, invalid_penalty=0.05, loss_agg="token",
                      iterations=iterations, save_every=max(iterations, 1), keep_checkpoints=1, seed=seed,
                      output_dir=str(out), device="cpu", torch_threads=1, progress=False,
                      resume=(out / "latest").is_file(), **METHODS[method])
    if len(read_metrics(out / "metrics.jsonl")) < iterations:
        train(cfg)
    return read_metrics(out / "metrics.jsonl")


def t_interval(x: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    m = float(np.mean(x))
    if len(x) < 2:
        return m, m, m
    h = float(stats.t.ppf(0.975, len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x)))
    return m, m - h, m + h


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--envs", nargs="+", default=list(ENVS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--bc-steps", type=int, default=150)
    p.add_argument("--workdir", default="/tmp/empg_learning")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "learning.json"))
    p.add_argument("--plot-only", help="re-draw the curves of a results JSON and exit")
    args = p.parse_args()
    if args.plot_only:
        res = json.loads(Path(args.plot_only).read_text())
        for env, er in res["envs"].items():
            _plot(env, {m: r["curves"] for m, r in er["methods"].items()},
                  Path(args.plot_only).parent / f"learning_{env}.png")
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    results: dict = {"command": "python benchmarks/learning.py " + " ".join(
        [f"--envs {' '.join(args.envs)}", f"--seeds {' '.join(map(str, args.seeds))}",
         f"--methods {' '.join(args.methods)}", f"--iterations {args.iterations}",
         f"--bc-steps {args.bc_steps}"]),
        "envs": {}}
    for env in args.envs:
        curves: dict[str, list[list[float]]] = {m: [] for m in args.methods}
        phases: dict[str, dict[str, float]] = {}
        for seed in args.seeds:
            start = warm_start(env, seed, workdir, args.bc_steps)
            for m in args.methods:
                ts = time.time()
                rows = run(env, m, seed, start, workdir, args.iterations)
                curves[m].append([r.get("success", float("nan")) for r in rows])
                final = np.mean([r["success"] for r in rows[-5:]])
                print(f"[{time.time() - t0:7.0f}s] {env} {m} seed {seed}: success "
                      f"{rows[0]['success']:.2f} -> {final:.2f} ({time.time() - ts:.0f}s)", flush=True)
                ph = phases.setdefault(m, {})
                for k in ("time_rollout", "time_scoring", "time_estimator", "time_update", "time_total"):
                    ph.setdefault(k, 0.0)
                    ph[k] += float(np.sum([r.get(k, 0.0) for r in rows]))
        env_res: dict = {"settings": ENVS[env], "methods": {}}
        for m in args.methods:
            c = np.array(curves[m])  # [seeds, iterations]
            first, last5 = c[:, 0], c[:, -5:].mean(axis=1)
            ph = phases[m]
            env_res["methods"][m] = {
                "start_success": t_interval(first), "final_success_last5": t_interval(last5),
                "gain": t_interval(last5 - first), "per_seed_start": first.tolist(),
                "per_seed_final": last5.tolist(),
                "curve_mean": c.mean(axis=0).tolist(), "curves": c.tolist(),
                "time_per_iteration": {k: ph[k] / c.size for k in ph},
                "estimator_share_of_step": ph["time_estimator"] / ph["time_total"],
            }
        results["envs"][env] = env_res
        _plot(env, curves, Path(args.out).parent / f"learning_{env}.png")
    results["wall_seconds"] = time.time() - t0
    print(f"\n{'env':<12}{'method':<8}{'start':>22}{'final (last 5)':>24}{'estimator share':>17}")
    for env, er in results["envs"].items():
        for m, r in er["methods"].items():
            s, f = r["start_success"], r["final_success_last5"]
            print(f"{env:<12}{m:<8}{s[0]:>8.3f} [{s[1]:.2f},{s[2]:.2f}]{f[0]:>10.3f} [{f[1]:.2f},{f[2]:.2f}]"
                  f"{100 * r['estimator_share_of_step']:>15.3f}%")
    out = Path(args.out)
    write_json_atomic(out, results, indent=1)
    print(f"wrote {out}")


def _plot(env: str, curves: dict[str, list[list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for m, cs in curves.items():
        c = np.array(cs)
        x = np.arange(c.shape[1])
        mean = c.mean(axis=0)
        line, = ax.plot(x, mean, label=f"{m} (n={c.shape[0]} seeds; thin: each seed)")
        for row in c:
            ax.plot(x, row, color=line.get_color(), alpha=0.35, lw=0.7)
        if c.shape[0] > 1:
            h = stats.t.ppf(0.975, c.shape[0] - 1) * c.std(axis=0, ddof=1) / np.sqrt(c.shape[0])
            ax.fill_between(x, np.clip(mean - h, 0, 1), np.clip(mean + h, 0, 1), alpha=0.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("rollout success")
    ax.set_title(f"{env}: same BC start, mean and 95% t-interval over seeds", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
