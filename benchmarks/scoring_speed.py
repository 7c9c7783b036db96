"""Forward + backward of the scoring pass: output layer on every position vs on the response positions only.

    python benchmarks/scoring_speed.py [--repeats 5] [--out benchmarks/results/scoring_speed.json]

:func:`empg_gym.trainers.scoring.response_logits` runs the output layer only at the positions that predict
response tokens (a pre-hook gathers their hidden states). This measures what that saves, side by side in one
process, for start-shaped models (Qwen2, tied embeddings; the shapes of ``empg-bench``'s starts) on batches
shaped like the trainer's micro-batches: 16 turns, prompts of 60-300 tokens (DeepSearch's range), responses
of 12 tokens. Per case: median seconds of ``log_softmax`` + ``backward`` through (a) the full ``[B, L, V]``
logits gathered afterwards (the previous code) and (b) ``response_logits``; one torch thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

CASES = [  # (layers, hidden, vocab)
    (2, 128, 891),  # the ALFWorld start's vocabulary
    (2, 128, 4096),  # the DeepSearch start
    (2, 128, 8192),
    (4, 256, 4096),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="benchmarks/results/scoring_speed.json")
    args = ap.parse_args()
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from empg_gym._io import write_json_atomic
    from empg_gym._table import print_table
    from empg_gym.trainers.scoring import pack, response_logits

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    rows, out = [], []
    for layers, hidden, vocab in CASES:
        cfg = Qwen2Config(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                          num_attention_heads=hidden // 32, num_key_value_heads=hidden // 32,
                          intermediate_size=4 * hidden, tie_word_embeddings=True)
        model = Qwen2ForCausalLM(cfg)
        samples = [
            (torch.randint(0, vocab, (int(torch.randint(60, 300, (1,), generator=g)),), generator=g).tolist(),
             torch.randint(0, vocab, (12,), generator=g).tolist())
            for _ in range(16)
        ]
        pb = pack(samples)

        def full(model: torch.nn.Module = model, pb: Any = pb) -> torch.Tensor:
            logits = model(input_ids=pb.input_ids, attention_mask=pb.attention_mask, use_cache=False).logits
            return torch.gather(logits, 1, pb.resp_index.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))

        def hooked(model: torch.nn.Module = model, pb: Any = pb) -> torch.Tensor:
            return response_logits(model, pb)

        times: dict[str, list[float]] = {"full": [], "response": []}
        for _ in range(args.repeats):  # interleaved, so load changes hit both alike
            for name, f in (("full", full), ("response", hooked)):
                t = time.perf_counter()
                loss = torch.log_softmax(f(), -1).mean()
                loss.backward()
                model.zero_grad(set_to_none=True)
                times[name].append(time.perf_counter() - t)
        a, b = statistics.median(times["full"]), statistics.median(times["response"])
        params = sum(p.numel() for p in model.parameters())
        rows.append([f"{layers} x {hidden}", vocab, f"{params / 1e6:.2f}M", f"{a:.3f}", f"{b:.3f}", f"{a / b:.2f}x"])
        out.append({"layers": layers, "hidden": hidden, "vocab": vocab, "parameters": params,
                    "full_s": a, "response_only_s": b, "speedup": a / b, "tokens": int(pb.attention_mask.sum())})
    print_table("scoring forward + backward, 16 turns (median seconds, one thread)",
                ["model", "vocab", "params", "full logits", "response positions", "speed-up"], rows)
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, {"cases": out, "repeats": args.repeats, "load_avg_1min": load})


if __name__ == "__main__":
    main()
