"""The entropy-gradient coupling EMPG builds on, measured on real rollouts.

    python benchmarks/entropy_coupling.py [--model tiny|<folder>] [--env empg/GuessNumber-v0]
                                          [--env-kwargs '{"n": 8}'] [--episodes 16] [--history-length 1]

For every step (agent turn) of the rollouts: the step's entropy H (mean full-vocabulary token entropy) and
the gradient norm of the step's log-probability, ||grad_theta log pi(step)|| (sum over its response
tokens, all trainable parameters). EMPG re-weights a step's advantage by g = exp(-k Hn) / mean(exp(-k Hn));
the effective per-step gradient scale becomes g * ||grad log pi||. Prints Spearman correlations of both with
H (permutation p-values), writes benchmarks/results/entropy_coupling.json and a scatter plot entropy_coupling.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from empg_gym._io import write_json_atomic


class Rho(NamedTuple):
    statistic: float
    pvalue: float


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank (as Spearman's rho needs)."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    r[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            r[tie] = r[tie].mean()
    return r


def spearman(x: np.ndarray, y: np.ndarray, permutations: int = 2000, seed: int = 0) -> Rho:
    """Spearman's rho and a two-sided permutation p-value (``permutations`` shuffles of ``y``, seeded).

    >>> round(spearman(np.array([1., 2, 3, 4]), np.array([10., 20, 30, 40])).statistic, 6)
    1.0
    """
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = float(np.sqrt((rx ** 2).sum() * (ry ** 2).sum()))
    if denom == 0:
        return Rho(float("nan"), float("nan"))
    rho = float((rx * ry).sum() / denom)
    rng = np.random.default_rng(seed)
    null = np.array([(rx * rng.permutation(ry)).sum() / denom for _ in range(permutations)])
    return Rho(rho, float((1 + (np.abs(null) >= abs(rho) - 1e-12).sum()) / (permutations + 1)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="tiny")
    p.add_argument("--env", default="empg/GuessNumber-v0")
    p.add_argument("--env-kwargs", default='{"n": 8}')
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--max-steps", type=int, default=6)
    p.add_argument("--history-length", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--k", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "entropy_coupling.json"))
    args = p.parse_args()
    import torch

    from empg_gym.advantages.empg import modulation
    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent
    from empg_gym.rollout import collect
    from empg_gym.trainers.scoring import pack, response_logits, token_logprobs_entropy

    torch.set_num_threads(1)
    if args.model == "tiny":
        from empg_gym.policy.tiny import tiny_model_and_tokenizer

        model, tok = tiny_model_and_tokenizer(seed=args.seed)
    else:  # the folder's own tokenizer class (AutoTokenizer may re-tokenize a saved tokenizers backend)
        from empg_gym.policy.hf import load_model_and_tokenizer

        model, tok = load_model_and_tokenizer(args.model, device="cpu", dtype="float32")
    spec = AgentSpec(backend="transformers", model=args.model, history_length=args.history_length,
                     sampling={"max_new_tokens": args.max_new_tokens})
    if args.model != "tiny" and (Path(args.model) / "agent.yaml").is_file():  # a checkpoint or bench start:
        from empg_gym.policy import load_spec  # act as its agent.yaml says (prefix, action mode)

        spec = load_spec(args.model).replace(history_length=args.history_length,
                                             sampling={"max_new_tokens": args.max_new_tokens})
    agent = TransformersAgent(model, tok, spec)
    kw = json.loads(args.env_kwargs)
    trajs = collect(agent, args.env, tasks=args.episodes, env_kwargs=kw, max_steps=args.max_steps,
                    seed=args.seed, progress=False)
    steps = [(u.prompt_token_ids, u.token_ids) for t in trajs for u in t.turns if u.token_ids]
    ent, gnorm = [], []
    params = [q for q in model.parameters() if q.requires_grad]
    pad = tok.pad_token_id or 0
    for s in steps:
        pb = pack([s], pad)
        logits = response_logits(model, pb)
        logp, h = token_logprobs_entropy(logits, pb.resp_ids)
        grads = torch.autograd.grad((logp * pb.resp_mask).sum(), params)
        gnorm.append(float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads))))
        ent.append(float((h.detach() * pb.resp_mask).sum() / pb.resp_mask.sum()))
    ent_a, gn = np.array(ent), np.array(gnorm)
    n = len(ent_a)
    g, _ = modulation(ent_a, np.zeros(n, int), np.zeros(n, bool), k=args.k, k_next=1.0, eps=1e-8)
    r_raw = spearman(ent_a, gn)
    r_mod = spearman(ent_a, g * gn)
    res = {"steps": n, "model": args.model, "env": args.env, "env_kwargs": kw,
           "spearman_entropy_vs_gradnorm": [float(r_raw.statistic), float(r_raw.pvalue)],
           "spearman_entropy_vs_empg_scaled_gradnorm": [float(r_mod.statistic), float(r_mod.pvalue)],
           "entropy": ent_a.tolist(), "grad_norm": gn.tolist(), "g": g.tolist(),
           "command": "python benchmarks/entropy_coupling.py " + " ".join(
               f"--{k.replace('_', '-')} {v!r}" if k == "env_kwargs" else f"--{k.replace('_', '-')} {v}"
               for k, v in vars(args).items() if k != "out")}
    print(f"{n} steps; Spearman(H, ||grad log pi||) = {r_raw.statistic:.3f} (p={r_raw.pvalue:.2g}); "
          f"after EMPG's g: {r_mod.statistic:.3f} (p={r_mod.pvalue:.2g})")
    out = Path(args.out)
    write_json_atomic(out, res, indent=1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].scatter(ent_a, gn, s=8)
    ax[0].set(xlabel="step entropy H", ylabel="||grad log pi(step)||",
              title=f"raw (rho={r_raw.statistic:.2f})")
    ax[1].scatter(ent_a, g * gn, s=8, color="C1")
    ax[1].set(xlabel="step entropy H", ylabel="g * ||grad log pi||",
              title=f"EMPG g (rho={r_mod.statistic:.2f})")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
