"""``empg-train`` (``empg-gym train``) and ``empg-gym train-plot``.

Usage::

    empg-train --config baselines/guessnumber_empg_tiny.yaml [--lr 1e-5 --estimator grpo ...] [--resume]
    empg-gym train-plot runs/a runs/b --metric success --out curves.png
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from empg_gym._io import RunLockedError
from empg_gym._validate import CorruptFileError


def main(argv: Sequence[str] | None = None) -> int:
    """Train a policy with the config file given by ``--config`` and ``--field value`` overrides."""
    argv = list(sys.argv[1:] if argv is None else argv)
    path = None
    for i, a in enumerate(argv):
        if a == "--config" or a.startswith("--config="):
            if a == "--config" and i + 1 >= len(argv):
                print("empg-train: --config needs a YAML path", file=sys.stderr)
                return 2
            path = a.split("=", 1)[1] if "=" in a else argv[i + 1]
            argv = argv[:i] + argv[i + (1 if "=" in a else 2):]
            break
    from empg_gym.trainers.config import load_config

    try:
        cfg = load_config(path, argv)
    except (FileNotFoundError, ValueError) as e:
        print(f"empg-train: {e}", file=sys.stderr)
        return 2
    from empg_gym.trainers import train

    try:
        run = train(cfg)
    except (FileExistsError, FileNotFoundError, RunLockedError, CorruptFileError) as e:
        print(f"empg-train: {e}", file=sys.stderr)
        return 2
    print(f"run folder: {run}")
    from empg_gym.trainers.checkpoint import latest_checkpoint

    ck = latest_checkpoint(run)
    if ck is not None:
        print(f"latest checkpoint: {ck}  (evaluate: empg-eval --agent {ck} --env {cfg.env_id})")
    return 0


def plot_main(argv: Sequence[str] | None = None) -> int:
    """Plot metrics of one or more runs (``metrics.jsonl``) against the iteration."""
    import argparse

    p = argparse.ArgumentParser(prog="empg-gym train-plot", description=plot_main.__doc__)
    p.add_argument("runs", nargs="+", help="run folders (or metrics.jsonl files)")
    p.add_argument("--metric", action="append", help="metric(s) to plot (default: success, train_return, "
                   "step_entropy)")
    p.add_argument("--out", default="curves.png")
    p.add_argument("--smooth", type=int, default=1, help="moving-average window")
    args = p.parse_args(argv)
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from empg_gym.trainers.checkpoint import read_metrics

    metrics = args.metric or ["success", "train_return", "step_entropy"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for run in args.runs:
        f = Path(run)
        rows = read_metrics(f if f.is_file() else f / "metrics.jsonl")
        if not rows:
            print(f"train-plot: no metrics in {run}", file=sys.stderr)
            return 2
        for ax, m in zip(axes[0], metrics, strict=True):
            xs = [r["iteration"] for r in rows if m in r]
            ys = np.array([r[m] for r in rows if m in r], dtype=float)
            if args.smooth > 1 and len(ys) >= args.smooth:
                ys = np.convolve(ys, np.ones(args.smooth) / args.smooth, mode="valid")
                xs = xs[args.smooth - 1:]
            ax.plot(xs, ys, label=Path(run).name)
            ax.set_title(m)
            ax.set_xlabel("iteration")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
