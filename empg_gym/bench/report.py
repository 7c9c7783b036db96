"""``empg-bench report``: tables and plots regenerated from a results folder alone.

Read: ``starts/<env>/eval/*.json`` and ``runs/<env>/<method>/s<seed>/{result.json, eval/*.json,
<env>-<method>-s<seed>/metrics.jsonl}`` (see :mod:`empg_gym.bench.runner`). Written: ``report.md``,
``report.json`` and ``curves_<env>.png`` in the results folder. Unfinished runs are left out of the tables
(and listed).

Statistics, per env and eval list:

- **Success over seeds**: the mean of the per-seed test success with a 95% Student-t interval across seeds
  (the seed is the unit: it is what varies between repetitions of the whole experiment).
- **IQM** (rliable, Agarwal et al. 2021): the interquartile mean of the per-seed test success (25% trimmed
  at each end; with 5 seeds the mean of the middle 3). Per-(seed, task) scores are 0/1 episodes here, and
  their pooled IQM is 0 whenever fewer than a quarter of episodes succeed, so the runs are the unit.
- **Gain over the start**: per seed, test success minus the start's, mean and 95% t-interval across seeds
  (the issue's "shows learning" criterion: the interval excludes 0).
- **Paired difference vs the baseline** (GRPO): per task, the method's success averaged over seeds minus the
  baseline's averaged over the same seeds, mean over tasks with the percentile paired bootstrap CI of
  :func:`empg_gym.eval.compare.paired_bootstrap` (tasks are the resampled unit). Only seeds finished by both
  methods are paired.
- **Cost**: mean per-iteration seconds of each trainer phase and rollout tokens/s, from ``metrics.jsonl``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from empg_gym._io import write_json_atomic, write_text_atomic

__all__ = ["iqm", "load_results", "make_report", "t975", "t_interval"]


def t_interval(x: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of ``x`` (the mean twice when ``len(x) < 2``).

    >>> [round(v, 3) for v in t_interval([0.0, 1.0])]
    [0.5, -5.853, 6.853]
    """
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(a.mean())
    if a.size < 2:
        return (m, m, m)
    h = t975(a.size - 1) * float(a.std(ddof=1)) / math.sqrt(a.size)
    return (m, m - h, m + h)


#: Student-t 0.975 quantiles for 1..30 degrees of freedom (standard tables; no scipy dependency).
_T975 = (
    12.7062,
    4.3027,
    3.1824,
    2.7764,
    2.5706,
    2.4469,
    2.3646,
    2.3060,
    2.2622,
    2.2281,
    2.2010,
    2.1788,
    2.1604,
    2.1448,
    2.1314,
    2.1199,
    2.1098,
    2.1009,
    2.0930,
    2.0860,
    2.0796,
    2.0739,
    2.0687,
    2.0639,
    2.0595,
    2.0555,
    2.0518,
    2.0484,
    2.0452,
    2.0423,
)


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (table to 30, then Cornish-Fisher).

    >>> t975(4), round(t975(60), 3)
    (2.7764, 2.0)
    """
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def iqm(x: Sequence[float]) -> float:
    """Interquartile mean as rliable computes it (``scipy.stats.trim_mean(x, 0.25)``).

    Sort, drop ``floor(n / 4)`` values at each end, average the rest.

    >>> iqm([0, 1, 2, 3])  # middle half = 1 and 2
    1.5
    >>> round(iqm([0, 0, 0, 1, 1]), 4)  # 5 values: one dropped at each end -> mean of [0, 0, 1]
    0.3333
    """
    a = np.sort(np.asarray(x, dtype=np.float64).ravel())
    n = a.size
    if n == 0:
        return math.nan
    k = int(0.25 * n)
    return float(a[k : n - k].mean())


def _per_task_success(entry: Mapping[str, Any]) -> dict[int, float]:
    per: dict[int, list[float]] = {}
    for r in entry["per_episode"]:
        per.setdefault(int(r["task"]), []).append(float(r["won"]))
    return {t: float(np.mean(v)) for t, v in per.items()}


def load_results(results: str | os.PathLike) -> dict[str, Any]:
    """Everything saved under ``results``.

    Returns ``{"starts": {env: {list: entry}}, "runs": {(env, method, seed): {"result", "entries": {list:
    entry}, "metrics": [...]}}, "unfinished": [...]}``.
    """
    from empg_gym.trainers.checkpoint import read_metrics

    root = Path(results)
    if not (root / "suite.yaml").is_file():
        raise FileNotFoundError(
            f"{root} is not a benchmark results folder (no suite.yaml); run "
            "`empg-bench run` first or pass --results"
        )
    out: dict[str, Any] = {"starts": {}, "runs": {}, "unfinished": []}
    for d in sorted((root / "starts").glob("*/eval")):
        out["starts"][d.parent.name] = {
            p.stem: json.loads(p.read_text())
            for p in sorted(d.glob("*.json"))
            if not p.name.endswith(".partial.jsonl")
        }
    for run in sorted((root / "runs").glob("*/*/s*")):
        env, method, seed = run.parent.parent.name, run.parent.name, int(run.name[1:])
        if not (run / "result.json").is_file():
            out["unfinished"].append(f"{env}/{method}/{run.name}")
            continue
        out["runs"][(env, method, seed)] = {
            "result": json.loads((run / "result.json").read_text()),
            "entries": {p.stem: json.loads(p.read_text()) for p in sorted((run / "eval").glob("*.json"))},
            "metrics": read_metrics(run / f"{env}-{method}-{run.name}" / "metrics.jsonl"),
        }
    return out


def _fmt_ci(m: float, lo: float, hi: float) -> str:
    if math.isnan(m):
        return "n/a"
    if lo == hi:
        return f"{m:.3f}"
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def make_report(
    results: str | os.PathLike, *, baseline: str | None = None, plots: bool = True
) -> dict[str, Any]:
    """Write ``report.md``, ``report.json`` and the learning-curve PNGs; returns the report dict."""
    import yaml

    from empg_gym.bench.suite import DEFAULT_EVAL, EvalSpec
    from empg_gym.eval.compare import paired_bootstrap

    root = Path(results)
    data = load_results(root)
    suite_raw = yaml.safe_load((root / "suite.yaml").read_text()) or {}
    methods = list((suite_raw.get("methods") or {}).keys())
    baseline = baseline or suite_raw.get("baseline") or ("grpo" if "grpo" in methods else methods[0])
    envs = list((suite_raw.get("envs") or {}).keys())
    rep: dict[str, Any] = {
        "suite": suite_raw.get("name"),
        "baseline": baseline,
        "envs": {},
        "unfinished": data["unfinished"],
    }
    lines = [
        f"# Benchmark report: suite `{suite_raw.get('name')}`",
        "",
        f"Generated by `empg-bench report --results {root}` from the saved results only. "
        f"Finished runs: {len(data['runs'])}; unfinished: {len(data['unfinished'])}.",
        "",
    ]
    for env in envs:
        runs = {k: v for k, v in data["runs"].items() if k[0] == env}
        starts = data["starts"].get(env, {})
        # the start's evaluations on lists the suite no longer names (an earlier design's) are left out
        named = {
            EvalSpec(split=str(e.get("split", "test")), limit=e.get("limit")).key
            for e in (suite_raw["envs"][env] or {}).get("eval") or DEFAULT_EVAL
        }
        lists = sorted({lk for v in runs.values() for lk in v["entries"]} | ((set(starts) & named) or set(starts)))
        erep: dict[str, Any] = {"lists": {}, "cost": {}}
        lines += [f"## {env}", ""]
        if not runs and not starts:
            lines += ["No results yet (no start, no finished run).", ""]
            rep["envs"][env] = erep
            continue
        for lk in lists:
            start_entry = starts.get(lk)
            start_succ = float(start_entry["metrics"]["success"]["mean"]) if start_entry else math.nan
            lines += [
                f"### {lk}",
                "",
                f"Start policy success: {start_succ:.3f}" if start_entry else "Start policy: not evaluated",
                "",
                f"| method | seeds | success (mean, 95% t-CI over seeds) | IQM over seeds | gain over start | "
                f"paired diff vs {baseline} (95% bootstrap over tasks) |",
                "|---|---|---|---|---|---|",
            ]
            lrep: dict[str, Any] = {"start_success": start_succ, "methods": {}}
            succ_ci: tuple[float, float, float]
            base_seeds = {
                s: runs[(env, baseline, s)]["entries"][lk]
                for (_, m, s) in runs
                if m == baseline and lk in runs[(env, baseline, s)]["entries"]
            }
            for m in methods:
                ents = {
                    s: runs[(env, m, s)]["entries"][lk]
                    for (_, mm, s) in runs
                    if mm == m and lk in runs[(env, m, s)]["entries"]
                }
                if not ents:
                    continue
                seeds = sorted(ents)
                succ = [float(ents[s]["metrics"]["success"]["mean"]) for s in seeds]
                succ_ci = t_interval(succ)
                gain = t_interval([x - start_succ for x in succ]) if start_entry else (math.nan,) * 3
                diff: dict[str, Any] | None = None
                common = [s for s in seeds if s in base_seeds]
                if m != baseline and common:
                    pa = [_per_task_success(ents[s]) for s in common]
                    pb = [_per_task_success(base_seeds[s]) for s in common]
                    tasks = sorted(set.intersection(*[set(x) for x in pa + pb]))
                    a = [float(np.mean([x[t] for x in pa])) for t in tasks]
                    b = [float(np.mean([x[t] for x in pb])) for t in tasks]
                    diff = {**paired_bootstrap(a, b), "seeds": common}
                dtxt = (
                    "—"
                    if diff is None
                    else f"{diff['diff']:+.3f} [{diff['ci'][0]:+.3f}, {diff['ci'][1]:+.3f}] "
                    f"({len(common)} seeds)"
                )
                lines.append(
                    f"| {m} | {len(seeds)} | {_fmt_ci(*succ_ci)} | {iqm(succ):.3f} | "
                    f"{_fmt_ci(*gain)} | {dtxt} |"
                )
                lrep["methods"][m] = {
                    "seeds": seeds,
                    "success_per_seed": succ,
                    "success": list(succ_ci),
                    "iqm": iqm(succ),
                    "gain_over_start": list(gain),
                    "diff_vs_baseline": diff,
                }
            lines.append("")
            erep["lists"][lk] = lrep
        # cost
        lines += [
            "Cost per iteration (mean over finished runs; seconds):",
            "",
            "| method | runs | rollout | scoring | estimator | update | total | rollout tok/s | "
            "train wall per run (s) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for m in methods:
            rs = [v for k, v in runs.items() if k[1] == m]
            if not rs:
                continue
            rows = [r for v in rs for r in v["metrics"]]

            def mean(key: str, rows: list[dict[str, Any]] = rows) -> float:
                return float(np.mean([r.get(key, 0.0) for r in rows])) if rows else math.nan

            tok = sum(r.get("tokens", 0) for r in rows)
            troll = sum(r.get("time_rollout", 0.0) for r in rows)
            wall = float(np.mean([v["result"]["train_seconds_total"] for v in rs]))
            c = {k: mean(f"time_{k}") for k in ("rollout", "scoring", "estimator", "update", "total")}
            c["rollout_tokens_per_s"] = tok / troll if troll else math.nan
            c["train_seconds_per_run"] = wall
            erep["cost"][m] = c
            lines.append(
                f"| {m} | {len(rs)} | {c['rollout']:.2f} | {c['scoring']:.2f} | {c['estimator']:.4f} | "
                f"{c['update']:.2f} | {c['total']:.2f} | {c['rollout_tokens_per_s']:.0f} | {wall:.0f} |"
            )
        lines.append("")
        per_method = {m: [v["metrics"] for k, v in sorted(runs.items()) if k[1] == m] for m in methods}
        lines += _signal_table(per_method, erep)
        if plots and runs:
            png = root / f"curves_{env}.png"
            _plot(
                env,
                per_method,
                png,
                {lk: erep["lists"][lk]["start_success"] for lk in erep["lists"]},
            )
            lines += [f"![learning curves]({png.name})", ""]
            epng = root / f"entropy_{env}.png"
            if _plot_entropy(env, per_method, epng):
                lines += [
                    "Step entropy per iteration (EMPG's signal: the mean token entropy of each step of the "
                    "rollout): median and 10th-90th percentile band, averaged over seeds.",
                    "",
                    f"![step entropy]({epng.name})",
                    "",
                ]
        rep["envs"][env] = erep
    if data["unfinished"]:
        lines += ["Unfinished runs (not in the tables): " + ", ".join(data["unfinished"]), ""]
    write_text_atomic(root / "report.md", "\n".join(lines) + "\n")
    write_json_atomic(root / "report.json", rep, indent=1)
    return rep


def _signal_table(per_method: Mapping[str, list[list[dict[str, Any]]]], erep: dict[str, Any]) -> list[str]:
    """Markdown lines of the training-signal table (and ``erep["signal"]``) of one env's finished runs.

    ``per_method``: method -> the ``metrics.jsonl`` rows of each of its finished runs (seed order).

    Per method, over seeds: training success in the first and the last quarter of the iterations, the share of
    rollout groups whose returns differ (the only groups that give GRPO-family estimators a gradient;
    ``groups_informative`` in ``metrics.jsonl``, absent from runs made before the metric existed) and the median
    step entropy in the first and the last quarter. It says *why* a family does or does not learn.
    """
    out = [
        "Training signal (mean over seeds; first / last quarter of the iterations):",
        "",
        "| method | runs | train success | informative groups | entropy (median over steps) |",
        "|---|---|---|---|---|",
    ]
    erep["signal"] = {}
    for m, rows_of_runs in per_method.items():
        per_run = [rows for rows in rows_of_runs if rows]
        if not per_run:
            continue

        def quarters(key: str, rows_of_runs: list[list[dict[str, Any]]] = per_run) -> tuple[float, float]:
            firsts, lasts = [], []
            for rows in rows_of_runs:
                vals = [float(r[key]) for r in rows if key in r]
                if not vals:
                    continue
                q = max(1, len(vals) // 4)
                firsts.append(float(np.mean(vals[:q])))
                lasts.append(float(np.mean(vals[-q:])))
            return (float(np.mean(firsts)), float(np.mean(lasts))) if firsts else (math.nan, math.nan)

        sig = {k: quarters(k) for k in ("success", "groups_informative", "step_entropy_p50")}
        erep["signal"][m] = {k: list(v) for k, v in sig.items()}

        def cell(v: tuple[float, float], pct: bool) -> str:
            if math.isnan(v[0]):
                return "-"
            return f"{100 * v[0]:.0f}% / {100 * v[1]:.0f}%" if pct else f"{v[0]:.3f} / {v[1]:.3f}"

        out.append(
            f"| {m} | {len(per_run)} | {cell(sig['success'], True)} | {cell(sig['groups_informative'], True)} | "
            f"{cell(sig['step_entropy_p50'], False)} |"
        )
    return out + [""]


def _axes() -> tuple[Any, Any, Any]:
    """``(pyplot, figure, axes)`` of one benchmark plot (matplotlib's Agg backend)."""
    from empg_gym._optional import require

    matplotlib = require("matplotlib", extra="plot", why="benchmark plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    return plt, fig, ax


def _save(plt: Any, fig: Any, ax: Any, path: Path, ylabel: str, title: str) -> None:
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot(
    env: str, metrics: Mapping[str, list[list[dict[str, Any]]]], path: Path, starts: Mapping[str, float]
) -> None:
    """Rollout success per iteration: mean over seeds with a 95% t band (and each seed thin)."""
    plt, fig, ax = _axes()
    for m, runs in metrics.items():
        if not runs:
            continue
        n = min(len(r) for r in runs)
        c = np.array([[row.get("success", math.nan) for row in r[:n]] for r in runs])  # [seeds, iterations]
        x = np.arange(1, n + 1)
        mean = c.mean(axis=0)
        (line,) = ax.plot(x, mean, label=f"{m} ({c.shape[0]} seeds)")
        for row in c:
            ax.plot(x, row, color=line.get_color(), alpha=0.25, lw=0.6)
        if c.shape[0] > 1:
            h = t975(c.shape[0] - 1) * c.std(axis=0, ddof=1) / np.sqrt(c.shape[0])
            ax.fill_between(
                x, np.clip(mean - h, 0, 1), np.clip(mean + h, 0, 1), color=line.get_color(), alpha=0.2
            )
    for lk, s in starts.items():
        if not math.isnan(s):
            ax.axhline(s, ls="--", lw=0.8, color="gray")
            ax.text(1, s, f" start ({lk})", fontsize=7, va="bottom", color="gray")
    _save(plt, fig, ax, path, "rollout success (train tasks)", f"{env}: mean and 95% t-band over seeds")


def _plot_entropy(env: str, metrics: Mapping[str, list[list[dict[str, Any]]]], path: Path) -> bool:
    """Per-iteration step-entropy distribution (p10 / p50 / p90, mean over seeds); False if not recorded."""
    keys = ("step_entropy_p10", "step_entropy_p50", "step_entropy_p90")
    runs_of = {m: [r for r in runs if r and all(k in r[0] for k in keys)] for m, runs in metrics.items()}
    if not any(runs_of.values()):
        return False
    plt, fig, ax = _axes()
    for m, runs in runs_of.items():
        if not runs:
            continue
        n = min(len(r) for r in runs)
        q = np.array([[[row[k] for k in keys] for row in r[:n]] for r in runs]).mean(axis=0)  # [iters, 3]
        x = np.arange(1, n + 1)
        (line,) = ax.plot(x, q[:, 1], label=f"{m} ({len(runs)} seeds)")
        ax.fill_between(x, q[:, 0], q[:, 2], color=line.get_color(), alpha=0.15)
    _save(plt, fig, ax, path, "step entropy (nats)", f"{env}: step entropy, median and p10-p90 (mean over seeds)")
    return True
