"""WebShop env speed: catalog/index build, memory, step latency per action kind, search backends.

Usage::

    python benchmarks/webshop.py                      # generated 1k + 100k, real 1k (if present)
    python benchmarks/webshop.py --sizes 1000 --episodes 100
    WEBSHOP_DATA=/path/to/data python benchmarks/webshop.py

Step latency is measured on the unwrapped env (no Gymnasium wrappers) over episodes that mix the expert's
actions with random admissible detours (next/prev pages, other products, sub-pages) and invalid actions.
The search backends are compared on the same catalog with the instruction queries of the first goals:
per-query latency and the mean top-10 overlap against bm25s. Writes benchmarks/results/webshop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from empg_gym._io import write_json_atomic
from empg_gym._optional import is_available
from empg_gym.envs.webshop.catalog import build_catalog, search_document
from empg_gym.envs.webshop.env import _CATALOGS, _INDEXES, WebShopEnv
from empg_gym.envs.webshop.expert import best_reward, instruction_query
from empg_gym.envs.webshop.search import make_index

REAL_DEFAULT = "/work/shared/data/webshop"
PYSERINI_MAX_DOCS = 10_000


def rss_mb() -> float:
    """Resident set size of this process (MB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def kind_of(action: str, env: WebShopEnv) -> str:
    if not re.match(r"(.+)\[(.+)\]", action):
        return "invalid"
    if action.startswith("search["):
        return "search"
    arg = action[6:-1]
    what = env._clickables.get(arg)
    if what is None:
        return "invalid"
    return {
        "back": "back to search",
        "next": "next/prev page",
        "prev": "next/prev page",
        "item": "open item",
        "option": "select option",
        "sub": "sub-page",
        "buy": "buy now",
    }[what[0]]


def step_latencies(env: WebShopEnv, episodes: int, seed: int = 0) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {}
    n_tasks = len(env.task_ids)
    for ep in range(episodes):
        obs, info = env.reset(seed=ep, options={"task_index": int(rng.integers(n_tasks))})
        for _ in range(15):
            u = rng.random()
            adm = info["admissible_actions"] or []
            if u < 0.1:
                a = "click[no such button]"
            elif u < 0.35 and adm:
                a = adm[int(rng.integers(len(adm)))]
                if a == "click[buy now]" or a.startswith("search["):
                    a = env.expert_action()
            else:
                a = env.expert_action()
            k = kind_of(a, env)
            t = time.perf_counter()
            obs, r, term, trunc, info = env.step(a)
            dt = (time.perf_counter() - t) * 1000
            out.setdefault(k if info["action_valid"] else "invalid", []).append(dt)
            if term:
                break
    return out


def expert_score(env: WebShopEnv) -> dict[str, float]:
    """The expert on every goal of the env's split: success rate, mean reward, steps, reachable share."""
    rewards, steps, reachable = [], [], []
    for i in range(len(env.task_ids)):
        obs, info = env.reset(seed=i, options={"task_index": i})
        reachable.append(best_reward(env.catalog, env.goal, env._nouns) == 1.0)
        r, n, term = 0.0, 0, False
        while n < 15 and not term:  # max_episode_steps = 15
            obs, r, term, trunc, info = env.step(env.expert_action())
            n += 1
        rewards.append(r if term else 0.0)
        steps.append(n)
    won = [x == 1.0 for x in rewards]
    return {
        "goals": len(rewards),
        "success_rate": float(np.mean(won)),
        "mean_reward": float(np.mean(rewards)),
        "mean_steps": float(np.mean(steps)),
        "reachable_1.0_share": float(np.mean(reachable)),
        "success_on_reachable": float(
            np.mean([w for w, ok in zip(won, reachable, strict=True) if ok] or [0.0])
        ),
    }


def summarize(lat: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        k: {"n": len(v), "median_ms": statistics.median(v), "p95_ms": float(np.percentile(v, 95))}
        for k, v in sorted(lat.items())
    }


def _agreement(ref: list[list[int]], hits: list[list[int]]) -> dict[str, float]:
    pairs = list(zip(ref, hits, strict=True))
    return {
        "top1": float(np.mean([a[:1] == b[:1] for a, b in pairs])),
        "top10": float(
            np.mean([len(set(a[:10]) & set(b[:10])) / max(1, min(10, len(a), len(b))) for a, b in pairs])
        ),
        "top50": float(np.mean([len(set(a) & set(b)) / max(1, min(50, len(a), len(b))) for a, b in pairs])),
    }


def backend_compare(catalog, n_queries: int, cache: Path) -> dict:
    """Query latency per backend and the agreement of their top lists (vs pyserini = Lucene when present)."""
    docs = [search_document(p) for p in catalog.products]
    queries = [instruction_query(g) for g in catalog.goals[:n_queries]]
    res: dict = {}
    all_hits: dict[str, list[list[int]]] = {}
    for backend in ("pyserini", "bm25s", "builtin"):
        if backend == "bm25s" and not is_available("bm25s"):
            continue
        if backend == "pyserini" and not is_available("pyserini"):
            res[backend] = {"status": "not installed (pip install 'empg-gym[pyserini]')"}
            continue
        if backend == "pyserini" and len(docs) > PYSERINI_MAX_DOCS:
            res[backend] = {"status": f"skipped (over {PYSERINI_MAX_DOCS} products; minutes to index)"}
            continue
        t = time.perf_counter()
        idx = make_index(docs, backend, cache_dir=cache)
        build = time.perf_counter() - t
        hits, times = [], []
        for q in queries:
            t = time.perf_counter()
            hits.append(idx.search(q, 50))
            times.append((time.perf_counter() - t) * 1000)
        all_hits[backend] = hits
        res[backend] = {
            "index_build_s": build,
            "query_median_ms": statistics.median(times),
            "query_p95_ms": float(np.percentile(times, 95)),
            "note": "build time includes starting the JVM" if backend == "pyserini" else "",
        }
    ref_name = "pyserini" if "pyserini" in all_hits else "bm25s"
    for name, hits in all_hits.items():
        if name != ref_name:
            res[name][f"agreement_vs_{ref_name}"] = _agreement(all_hits[ref_name], hits)
    return res


def bench(name: str, kwargs: dict, episodes: int, n_queries: int) -> dict:
    print(f"== {name}", flush=True)
    _CATALOGS.clear()
    _INDEXES.clear()
    rss0 = rss_mb()
    t = time.perf_counter()
    catalog = build_catalog(**kwargs)
    t_catalog = time.perf_counter() - t
    rss1 = rss_mb()
    docs = [search_document(p) for p in catalog.products]
    env_kwargs = {k: v for k, v in kwargs.items() if k != "seed"} | {"catalog_seed": kwargs.get("seed", 0)}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        index = make_index(docs, "auto", cache_dir=tmp)
        t_index = time.perf_counter() - t
        rss2 = rss_mb()
        t = time.perf_counter()
        again = make_index(docs, "auto", cache_dir=tmp)
        t_reload = time.perf_counter() - t
        assert again.loaded_from_cache or index.backend != "bm25s"
        del again
        env = WebShopEnv(split="test", cache_dir=tmp, **env_kwargs)
        lat = summarize(step_latencies(env, episodes))
        expert = expert_score(env)
        backends = backend_compare(catalog, n_queries, Path(tmp) / "compare")
    return {
        "catalog": catalog.description,
        "products": len(catalog.products),
        "goals": len(catalog.goals),
        "catalog_build_s": t_catalog,
        "index_build_s": t_index,
        "index_load_from_cache_s": t_reload,
        "rss_before_mb": rss0,
        "rss_catalog_mb": rss1 - rss0,
        "rss_catalog_plus_index_mb": rss2 - rss0,
        "step_latency": lat,
        "expert_test_split": expert,
        "search_backends": backends,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 100_000])
    ap.add_argument("--episodes", type=int, default=300)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--real", default=os.environ.get("WEBSHOP_DATA", REAL_DEFAULT))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "webshop.json"))
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one config (JSON kwargs), print JSON
    args = ap.parse_args(argv)
    if args.one:
        name, kwargs = json.loads(args.one)
        print("RESULT " + json.dumps(bench(name, kwargs, args.episodes, args.queries)), flush=True)
        return 0
    configs = [(f"generated-{n}", {"source": "generated", "num_products": n, "seed": 0}) for n in args.sizes]
    if args.real and Path(args.real, "items_ins_v2_1000.json").is_file():
        configs.append(("real-1k", {"data_dir": args.real, "source": "real", "seed": 0}))
    else:
        print(f"(real data not found in {args.real}; skipped)")
    runs: dict[str, dict] = {}
    for name, kwargs in configs:  # one process per config, so memory numbers are clean
        cmd = [
            sys.executable,
            __file__,
            "--episodes",
            str(args.episodes),
            "--queries",
            str(args.queries),
            "--one",
            json.dumps([name, kwargs]),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        runs[name] = json.loads(line[len("RESULT ") :])
    result = {
        "command": "python "
        + " ".join(["benchmarks/webshop.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "runs": runs,
    }
    print()
    for name, r in runs.items():
        print(f"{name}: {r['catalog']}")
        print(
            f"  catalog build {r['catalog_build_s']:.2f} s, index build {r['index_build_s']:.2f} s, "
            f"index load {r['index_load_from_cache_s']:.3f} s, RSS +{r['rss_catalog_plus_index_mb']:.0f} MB"
        )
        e = r["expert_test_split"]
        print(
            f"  expert on test ({e['goals']} goals): success {e['success_rate']:.3f}, mean reward "
            f"{e['mean_reward']:.4f}, {e['mean_steps']:.2f} steps; "
            f"1.0 reachable on {e['reachable_1.0_share']:.3f}, "
            f"success there {e['success_on_reachable']:.3f}"
        )
        print(f"  {'action':<16}{'n':>6}{'median ms':>11}{'p95 ms':>9}")
        for k, v in r["step_latency"].items():
            print(f"  {k:<16}{v['n']:>6}{v['median_ms']:>11.3f}{v['p95_ms']:>9.3f}")
        for b, v in r["search_backends"].items():
            if "query_median_ms" not in v:
                print(f"  search {b:<9} {v['status']}")
                continue
            agree = "".join(
                f", vs {ref.split('_vs_')[-1]}: top-1 {a['top1']:.3f} "
                f"top-10 {a['top10']:.3f} top-50 {a['top50']:.3f}"
                for ref, a in v.items()
                if ref.startswith("agreement_vs_")
            )
            print(
                f"  search {b:<9} build {v['index_build_s']:.2f} s, "
                f"query median {v['query_median_ms']:.3f} ms, p95 {v['query_p95_ms']:.3f} ms{agree}"
            )
    out = Path(args.out)
    write_json_atomic(out, result, indent=2)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
