"""What the suite-based benchmarks share: the arguments naming one run of a suite, and its TrainConfig fields.

Used by ``bench_cost.py``, ``update_skip.py`` and ``choice_gradient.py`` (run as ``python benchmarks/<name>.py``,
so this folder is on ``sys.path``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import tempfile
from collections.abc import Callable, Iterator
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


def batch_parser(doc: str | None) -> argparse.ArgumentParser:
    """:func:`suite_run_parser` plus ``--iteration`` and ``--repeats`` (benchmarks on one rollout batch)."""
    p = suite_run_parser(doc)
    p.add_argument("--iteration", type=int, default=2, help="whose task draw and seeds the rollout uses")
    p.add_argument("--repeats", type=int, default=2)
    return p


@contextlib.contextmanager
def rolled_out(args: argparse.Namespace, check: Any = None, **overrides: Any) -> Iterator[tuple[Any, ...]]:
    """``(suite, env, method, trainer, (trajs, rewards, stats))``: a set-up PGTrainer of the suite's run and its
    rollout of iteration ``args.iteration``, in a temporary run folder.

    ``overrides`` change TrainConfig fields; ``check(fields, trainer)`` may exit with a message before the
    (slow) setup and rollout.
    """
    from empg_gym.trainers.config import from_dict
    from empg_gym.trainers.pg import PGTrainer

    with tempfile.TemporaryDirectory() as tmp:
        suite, env, method, fields = suite_run_fields(args, Path(tmp) / "run")
        fields.update(overrides)
        t = PGTrainer(from_dict(fields))
        if check is not None:
            check(fields, t)
        t.setup()
        yield suite, env, method, t, t.rollout(args.iteration)


def weights_and_optimizer(t: Any) -> Callable[[], None]:
    """Snapshot the trainer's weights and optimizer state; returns the function that restores them."""
    w0 = copy.deepcopy(t.model.state_dict())
    o0 = copy.deepcopy(t.optimizer.state_dict())

    def restore() -> None:
        t.model.load_state_dict(w0)
        t.optimizer.load_state_dict(o0)

    return restore
