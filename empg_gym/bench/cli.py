"""``empg-bench``: run a benchmark suite (resumable), show its status, regenerate its report.

empg-bench run --suite cpu [--results DIR] [--env alfworld] [--method grpo]
empg-bench status --suite cpu [--results DIR]
empg-bench report --results DIR
empg-bench suites
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``empg-bench``."""
    p = argparse.ArgumentParser(
        prog="empg-bench",
        description="The credit-assignment benchmark "
        "(docs/benchmark.md): train every (method, env, seed) from a common start, "
        "evaluate the final checkpoints, report paired comparisons.",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run (or resume) every unfinished run of a suite")
    r.add_argument("--suite", required=True, help="built-in suite name (`empg-bench suites`) or YAML path")
    r.add_argument("--results", default=None, help="results folder (default: the suite's `results`)")
    r.add_argument("--env", default=None, help="only this env family")
    r.add_argument("--method", default=None, help="only this method")
    r.add_argument("--seed", type=int, action="append", default=None,
                   help="only this seed (repeatable); processes given disjoint seeds can share a family")
    r.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="stop after finishing this many runs (0: build and evaluate the starts only)",
    )
    r.add_argument("--no-progress", action="store_true", help="no progress output")
    r.add_argument("--no-report", action="store_true", help="do not regenerate the report at the end")
    s = sub.add_parser("status", help="which runs are done, partial or pending")
    s.add_argument("--suite", required=True)
    s.add_argument("--results", default=None)
    rp = sub.add_parser("report", help="tables and plots from the saved results")
    rp.add_argument("--results", required=True)
    rp.add_argument("--baseline", default=None, help="method the others are compared with (default: suite's)")
    rp.add_argument("--no-plots", action="store_true")
    sub.add_parser("suites", help="list the built-in suites")
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))

    from empg_gym.bench.suite import SuiteError, builtin_suites, load_suite

    try:
        if args.cmd == "suites":
            for name in builtin_suites():
                print(name)
            return 0
        if args.cmd == "report":
            from empg_gym.bench.report import make_report

            make_report(args.results, baseline=args.baseline, plots=not args.no_plots)
            print((__import__("pathlib").Path(args.results) / "report.md").read_text())
            return 0
        suite = load_suite(args.suite)
        results = args.results or suite.results
        if args.cmd == "status":
            from empg_gym.bench.runner import run_state

            counts: dict[str, int] = {}
            for env, m, seed in suite.runs():
                st = run_state(suite, results, env, m, seed)
                counts[st["state"]] = counts.get(st["state"], 0) + 1
                print(f"{env.name:<12}{m:<12}s{seed:<4}{st['state']:<9}{st['iterations']}/{st['of']}")
            print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
            return 0
        from empg_gym.bench.runner import SuiteMismatch, run_suite

        try:
            res = run_suite(
                suite,
                results,
                progress=not args.no_progress,
                only_env=args.env,
                only_method=args.method,
                only_seeds=args.seed,
                stop_after_runs=args.max_runs,
            )
        except KeyboardInterrupt:
            print(
                "\nempg-bench: interrupted; run the same command to resume (finished runs are kept, the "
                "interrupted one continues from its last checkpoint)",
                file=sys.stderr,
            )
            return 130
        except SuiteMismatch as e:
            print(f"empg-bench: {e}", file=sys.stderr)
            return 2
        if not args.no_report:
            from empg_gym.bench.report import make_report

            make_report(res)
            print(f"report: {res}/report.md")
        return 0
    except (SuiteError, FileNotFoundError, ValueError) as e:
        print(f"empg-bench: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
