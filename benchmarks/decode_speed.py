"""Decode speed of small policies through the rollout's batched loop, and where the time goes.

    python benchmarks/decode_speed.py [--env alfworld] [--batch 32] [--new-tokens 32] [--start DIR ...]
                                      [--profile]

Prompts: the first-turn observations of ``batch`` real episodes (ALFWorld valid_unseen games when
``$ALFWORLD_DATA`` is set, else generated; WebShop/DeepSearch test tasks), rendered by each model's own
tokenizer and chat template exactly as ``TransformersAgent.prompt`` does. Models: ``tiny:qwen2`` (2 layers,
hidden 64, the 512-token built-in BPE) and any start folder given with ``--start`` (``empg-bench``'s start
policies: env-trained BPE). For each: prompt tokens, then

- ``prefill``: one forward of the left-padded batch with ``logits_to_keep=1`` (what ``sample`` does first),
- ``decode``: ``new_tokens`` single-token steps with the KV cache (no early stop),
- ``end to end``: :func:`empg_gym.policy.hf.sample` (sampling, per-token log-prob/entropy recording, stop
  strings, dropping finished rows), tokens generated per second,

median of ``--repeats`` runs, one torch thread. ``--profile`` prints cProfile's top functions of one
``sample`` call. Writes ``benchmarks/results/decode_speed.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import time
from pathlib import Path

ENVS = {
    "alfworld": ("empg/ALFWorld-v0", {"split": "valid_unseen"}),
    "webshop": ("empg/WebShop-v0", {"split": "test"}),
    "deepsearch": ("empg/DeepSearch-v0", {"split": "test"}),
}


def histories(env: str, n: int) -> list:
    import gymnasium as gym

    import empg_gym  # noqa: F401
    from empg_gym.types import History

    env_id, kw = ENVS[env]
    e = gym.make(env_id, **kw)
    out = []
    for i in range(n):
        obs, info = e.reset(seed=i, options={"task_index": i})
        adm = info.get("admissible_actions")
        out.append(
            History(
                env_id=env_id,
                task=str(info.get("task", "")),
                turns=(),
                observation=obs,
                admissible_actions=None if adm is None else tuple(adm),
                info=info,
            )
        )
    e.close()
    return out


def measure(name: str, model, tok, hists, new_tokens: int, repeats: int, profile: bool) -> dict:
    import torch

    from empg_gym.policy import AgentSpec
    from empg_gym.policy.hf import TransformersAgent, _cache_of, sample

    agent = TransformersAgent(
        model,
        tok,
        AgentSpec(backend="transformers", model="<in memory>", sampling={"max_new_tokens": new_tokens}),
    )
    prompts = [agent.prompt(h)[1] for h in hists]
    b, L = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((b, L), tok.pad_token_id, dtype=torch.long)
    att = torch.zeros((b, L), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, L - len(p) :] = torch.as_tensor(p)
        att[i, L - len(p) :] = 1
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    pre, dec, e2e, gen = [], [], [], []
    kw = "cache" if "cache" in model.forward.__code__.co_varnames else "past_key_values"
    for _ in range(repeats):
        with torch.inference_mode():
            t = time.perf_counter()
            out = model(input_ids=ids, attention_mask=att, position_ids=pos, use_cache=True, logits_to_keep=1)
            pre.append(time.perf_counter() - t)
            past, a, p = _cache_of(out), att, pos
            tk = out.logits[:, -1].argmax(-1, keepdim=True)
            t = time.perf_counter()
            for _ in range(new_tokens):
                a = torch.cat([a, torch.ones((b, 1), dtype=a.dtype)], -1)
                p = p[:, -1:] + 1
                out = model(input_ids=tk, attention_mask=a, position_ids=p, use_cache=True, **{kw: past})
                past = _cache_of(out)
                tk = out.logits[:, -1].argmax(-1, keepdim=True)
            dec.append(time.perf_counter() - t)
        g = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        gens = sample(model, tok, prompts, max_new_tokens=new_tokens, generator=g, stop=("</action>",))
        e2e.append(time.perf_counter() - t)
        gen.append(sum(len(x.token_ids) for x in gens))
    res = {
        "model": name,
        "parameters": sum(q.numel() for q in model.parameters()),
        "vocab": len(tok),
        "batch": b,
        "prompt_tokens_mean": sum(map(len, prompts)) / b,
        "prompt_tokens_max": L,
        "prompt_chars_mean": sum(len(agent.prompt(h)[0]) for h in hists) / b,
        "prefill_s": statistics.median(pre),
        "decode_step_ms": 1000 * statistics.median(dec) / new_tokens,
        "decode_tok_per_s": b * new_tokens / statistics.median(dec),
        "e2e_s": statistics.median(e2e),
        "e2e_tokens": statistics.median(gen),
        "e2e_tok_per_s": statistics.median(gen) / statistics.median(e2e),
    }
    if profile:
        pr = cProfile.Profile()
        pr.enable()
        sample(
            model,
            tok,
            prompts,
            max_new_tokens=new_tokens,
            generator=torch.Generator().manual_seed(0),
            stop=("</action>",),
        )
        pr.disable()
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(12)
        res["profile_top_tottime"] = s.getvalue()
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="alfworld", choices=list(ENVS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--start", nargs="*", default=[], help="start folders (empg-bench) to measure too")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "decode_speed.json"))
    args = p.parse_args()
    import torch

    from empg_gym._io import write_json_atomic
    from empg_gym.policy.hf import load_model_and_tokenizer

    torch.set_num_threads(1)
    hists = histories(args.env, args.batch)
    rows = []
    for name in ["tiny:qwen2", *args.start]:
        m, tok = load_model_and_tokenizer(name, device="cpu", dtype="float32")
        rows.append(measure(name, m, tok, hists, args.new_tokens, args.repeats, args.profile))
    load = os.getloadavg()
    print(f"{args.env}, batch {args.batch}, {args.new_tokens} new tokens, 1 thread, load {load[0]:.2f}")
    print(
        f"{'model':<44}{'params':>9}{'vocab':>7}{'prompt tok':>11}{'prefill s':>10}{'ms/step':>9}"
        f"{'decode tok/s':>13}{'e2e tok/s':>11}"
    )
    for r in rows:
        print(
            f"{r['model'][-44:]:<44}{r['parameters']:>9,}{r['vocab']:>7}{r['prompt_tokens_mean']:>11.0f}"
            f"{r['prefill_s']:>10.3f}{r['decode_step_ms']:>9.1f}{r['decode_tok_per_s']:>13.0f}"
            f"{r['e2e_tok_per_s']:>11.0f}"
        )
        if "profile_top_tottime" in r:
            print(r["profile_top_tottime"])
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    write_json_atomic(
        args.out,
        {
            "command": "python benchmarks/decode_speed.py "
            + " ".join(
                [f"--env {args.env}", f"--batch {args.batch}", f"--new-tokens {args.new_tokens}"]
                + (["--start", *args.start] if args.start else [])
            ),
            "loadavg": load,
            "git_commit": commit,
            "rows": rows,
        },
        indent=1,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
