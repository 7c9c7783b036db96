"""WebShop reward fidelity: our ``get_reward`` against the original's, case by case, on the real 1k catalog.

Three steps (the middle one runs outside the project, in a scratch venv with the original code)::

    # 1. write the purchase cases (goal, product, price, selected options) from the real catalog
    python benchmarks/webshop_reward_fidelity.py cases --out /tmp/webshop_cases.json
    # 2. score them with the original web_agent_site/engine/goal.py (princeton-nlp/WebShop @ 64fa2a5)
    /work/scratch/envs14/venv/bin/python benchmarks/reference/webshop_reward_reference.py \\
        --webshop /path/to/WebShop/checkout --cases /tmp/webshop_cases.json --out /tmp/webshop_original.json
    # 3. compare every component, per tagger; write the summary and the test fixture
    python benchmarks/webshop_reward_fidelity.py compare --cases /tmp/webshop_cases.json \\
        --original /tmp/webshop_original.json --fixture tests/fixtures/webshop/reward_original.json

Cases, per goal of the 6,910 synthetic goals (goal order "original", catalog seed 0) and the human goals:
the goal's own product with the goal's options (the expert's purchase), the goal's product with the first
value of every option, a product with the same query, and a random product (with its first option values),
so every reward component (type, attributes, options, price) takes all of its values. The comparison covers
the total reward and r_type, r_att, r_option, r_price, query_match, category_match, title_score.
Results go to ``benchmarks/results/webshop_reward_fidelity.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

from empg_gym._io import write_json_atomic
from empg_gym.envs.webshop.env import get_catalog
from empg_gym.envs.webshop.expert import wanted_options
from empg_gym.envs.webshop.reward import get_reward, nouns_function, resolve_tagger

REAL = "/work/shared/data/webshop"
PRODUCT_KEYS = ("query", "product_category", "name", "Attributes", "Title", "BulletPoints", "Description")
GOAL_KEYS = ("query", "product_category", "name", "attributes", "goal_options", "price_upper")
COMPONENTS = ("r_type", "r_att", "r_option", "r_price", "query_match", "category_match", "title_score")


def _first_options(product: dict) -> dict[str, str]:
    return {name: values[0] for name, values in product["options"].items() if values}


def make_cases(data_dir: str, seed: int = 0) -> dict:
    """The purchase cases (see the module docstring), JSON-able."""
    rng = random.Random(seed)
    products: dict[str, dict] = {}
    goals: list[dict] = []
    cases: list[dict] = []
    for human in (False, True):
        cat = get_catalog(
            data_dir=data_dir,
            source=None,
            num_products=None,
            size="1k",
            human_goals=human,
            seed=0,
            goal_order="original",
        )
        by_query: dict[str, list[str]] = {}
        for p in cat.products:
            by_query.setdefault(p["query"], []).append(p["asin"])
        asins = [p["asin"] for p in cat.products]
        for gi, goal in enumerate(cat.goals):
            g = len(goals)
            goals.append(
                {"kind": "human" if human else "synthetic", "index": gi, **{k: goal[k] for k in GOAL_KEYS}}
            )
            own = cat.by_asin[goal["asin"]]
            same_query = [a for a in by_query[goal["query"]] if a != goal["asin"]] or asins
            for label, asin, opts in (
                ("expert", goal["asin"], wanted_options(own, goal)),
                ("first_options", goal["asin"], _first_options(own)),
                ("same_query", rng.choice(same_query), None),
                ("random", rng.choice(asins), None),
            ):
                p = cat.by_asin[asin]
                products.setdefault(asin, {k: p[k] for k in PRODUCT_KEYS})
                options = opts if opts is not None else _first_options(p)
                cases.append(
                    {"goal": g, "asin": asin, "price": cat.prices[asin], "options": options, "label": label}
                )
    return {"products": products, "goals": goals, "cases": cases}


def ours(data: dict, tagger: str) -> list[dict]:
    """Our reward for every case with the given title-noun tagger (``spacy`` or ``heuristic``)."""
    nouns = nouns_function(tagger)
    out = []
    for c in data["cases"]:
        d = get_reward(data["products"][c["asin"]], data["goals"][c["goal"]], c["price"], c["options"], nouns)
        out.append(d.as_dict())
    return out


def compare(data: dict, original: list[dict], mine: list[dict]) -> dict:
    """Agreement of every component (exact, floats to 1e-12) and the differing case indices."""

    def same(a, b):
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-12
        return a == b

    out: dict = {"cases": len(original)}
    diff_total = [
        i for i, (o, m) in enumerate(zip(original, mine, strict=True)) if not same(o["reward"], m["reward"])
    ]
    out["reward_agreement"] = 1 - len(diff_total) / len(original)
    out["reward_differing_cases"] = diff_total[:50]
    for k in COMPONENTS:
        n = sum(
            not same(o[k], m[k]) if (o[k] is not None or m[k] is not None) else False
            for o, m in zip(original, mine, strict=True)
        )
        out[f"{k}_agreement"] = 1 - n / len(original)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cases")
    c.add_argument("--data", default=REAL)
    c.add_argument("--out", required=True)
    m = sub.add_parser("compare")
    m.add_argument("--cases", required=True)
    m.add_argument("--original", required=True)
    m.add_argument("--fixture", default=None, help="write a test fixture with this many cases (--fixture-n)")
    m.add_argument("--fixture-n", type=int, default=4000)
    m.add_argument("--out", default="benchmarks/results/webshop_reward_fidelity.json")
    args = ap.parse_args()
    if args.cmd == "cases":
        data = make_cases(args.data)
        write_json_atomic(args.out, data, indent=None)
        print(
            f"{len(data['cases'])} cases over {len(data['goals'])} goals and {len(data['products'])} products"
        )
        return
    data = json.loads(Path(args.cases).read_text())
    ref = json.loads(Path(args.original).read_text())
    original = ref["results"]
    summary: dict = {
        "command": "python benchmarks/webshop_reward_fidelity.py compare ...",
        "reference": ref["reference"],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "by_tagger": {},
    }
    for tagger in ("spacy", "heuristic"):
        t0 = time.perf_counter()
        mine = ours(data, tagger)
        res = compare(data, original, mine)
        res["seconds"] = time.perf_counter() - t0
        res["tagger"] = resolve_tagger(tagger)
        summary["by_tagger"][tagger] = res
        print(
            f"{tagger:10s} cases {res['cases']:6d}  reward agreement {res['reward_agreement']:.4%}  "
            + "  ".join(f"{k} {res[k + '_agreement']:.4%}" for k in COMPONENTS)
        )
    write_json_atomic(args.out, summary)
    if args.fixture:
        rng = random.Random(1)
        idx = sorted(rng.sample(range(len(data["cases"])), min(args.fixture_n, len(data["cases"]))))
        fixture = {
            "description": (
                "WebShop purchase cases on the real 1k catalog (goal order 'original', catalog seed 0) "
                "scored by the original reward (web_agent_site/engine/goal.py get_reward, verbose=True)."
            ),
            "reference": ref["reference"],
            "generated_by": "benchmarks/webshop_reward_fidelity.py (cases, compare) + "
            "benchmarks/reference/webshop_reward_reference.py (runs the original outside the project)",
            "cases": [
                {
                    **{k: data["cases"][i][k] for k in ("asin", "price", "options", "label")},
                    "goal_kind": data["goals"][data["cases"][i]["goal"]]["kind"],
                    "goal_index": data["goals"][data["cases"][i]["goal"]]["index"],
                    "original": original[i],
                }
                for i in idx
            ],
        }
        Path(args.fixture).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.fixture, fixture, indent=None)
        print(f"fixture: {len(idx)} cases -> {args.fixture}")


if __name__ == "__main__":
    main()
