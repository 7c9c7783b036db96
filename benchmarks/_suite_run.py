"""What the suite-based benchmarks share: the arguments naming one run of a suite, and its TrainConfig fields.

Used by ``bench_cost.py``, ``update_skip.py`` and ``choice_gradient.py`` (run as ``python benchmarks/<name>.py``,
so this folder is on ``sys.path``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def suite_run_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser with ``--suite --env --method --start --out`` (add the script's own options to it)."""
    p = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    p.add_argument("--suite", default="cpu")
    p.add_argument("--env", required=True)
    p.add_argument("--method", default=None, help="default: the suite's baseline")
    p.add_argument("--start", required=True, help="start policy folder (HF checkpoint)")
    p.add_argument("--out", default=None)
    return p


def suite_run_fields(args: argparse.Namespace, output_dir: str | Path) -> tuple[Any, Any, str, dict[str, Any]]:
    """``(suite, env, method, fields)``: the suite's merged TrainConfig fields of (env, method) from ``--start``.

    Seed 0, no progress bars, the run written to ``output_dir``; torch's thread count is set from the suite.
    Exits with a message naming the problem for an env the suite does not have.
    """
    import torch

    from empg_gym.bench.suite import load_suite

    suite = load_suite(args.suite)
    try:
        env = suite.env(args.env)
    except ValueError as e:
        raise SystemExit(f"--env: {e}") from None
    method = args.method or suite.baseline
    fields = suite.train_fields(env, method)
    torch.set_num_threads(int(fields.get("torch_threads", 0) or 1))
    fields.update(model=str(Path(args.start).resolve()), seed=0, output_dir=str(output_dir), progress=False)
    return suite, env, method, fields
