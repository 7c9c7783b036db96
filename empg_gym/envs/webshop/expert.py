"""A scripted WebShop expert that uses the goal: search, find the target, choose its options, buy.

Per state (the expert is stateless apart from the query it chose for the episode):

- search page: search for the instruction (without the price clause); if the target product is not among
  that search's top 50, search for the target's title instead;
- results page: page to the target (``next >`` / ``< prev``) and open it; if it is not among the results,
  search with the fallback query, and if even that misses, open the first result;
- another product's page or a sub-page: ``< prev``;
- the target's page: click each goal option value not yet selected (synthetic goals name the value; for
  human goals the product value with the best ``token_set_ratio`` above 85 after colour normalisation),
  then ``buy now``.

It reaches reward 1.0 whenever the target product with the goal's options does (on the generated catalog,
every goal; on the real one, goals whose options collide or whose attributes the target lacks score less).
"""

from __future__ import annotations

from typing import Any

from empg_gym.envs.webshop.pages import PRODUCT_WINDOW
from empg_gym.envs.webshop.reward import MATCH_THRESHOLD, normalize_color, token_set_ratio


def _query(text: str) -> str:
    return " ".join(text.split()).lower()


def instruction_query(goal: dict[str, Any]) -> str:
    """The instruction without its price clause, as a search (whitespace-normalised, lower-cased)."""
    return _query(goal["instruction_text"].split(", and price lower than")[0])[:400]


def title_query(product: dict[str, Any]) -> str:
    """The product's title as a search (whitespace-normalised, lower-cased)."""
    return _query(product["Title"])[:400] or product["asin"].lower()


def _queries(env: Any) -> list[str]:
    target = env.catalog.by_asin[env.goal["asin"]]
    return [q for q in (instruction_query(env.goal), title_query(target)) if q.strip()]


def _choose_query(env: Any) -> str:
    if env._expert_query is None:
        qs = _queries(env)
        env._expert_query = next((q for q in qs if env.goal["asin"] in env.search(q)), qs[-1])
    return env._expert_query


def wanted_options(product: dict[str, Any], goal: dict[str, Any]) -> dict[str, str]:
    """Option name -> value to select on the target product for the goal."""
    opts = goal["goal_options"]
    if isinstance(opts, dict):
        return {k: v for k, v in opts.items() if v in product["options"].get(k, ())}
    out: dict[str, str] = {}
    for g in opts:
        g_norm = normalize_color(g)
        best: tuple[int, str, str] | None = None
        for name, values in product["options"].items():
            for v in values:
                score = token_set_ratio(normalize_color(v), g_norm)
                if score > MATCH_THRESHOLD and (best is None or score > best[0]):
                    best = (score, name, v)
        if best is not None and best[1] not in out:
            out[best[1]] = best[2]
    return out


def best_reward(catalog: Any, goal: dict[str, Any], nouns: Any = None) -> float:
    """The reward of buying the goal's own product with the expert's options: the reachable maximum."""
    from empg_gym.envs.webshop.reward import get_reward

    product = catalog.by_asin[goal["asin"]]
    options = wanted_options(product, goal)
    return get_reward(product, goal, catalog.prices[goal["asin"]], options, nouns).reward


def expert_action(env: Any) -> str:
    """The expert's action in ``env``'s current state (a :class:`~empg_gym.envs.webshop.env.WebShopEnv`)."""
    s = env.state
    target = env.goal["asin"]
    if s.page == "search":
        return f"search[{_choose_query(env)}]"
    if s.page == "results":
        if target in s.results:
            want_page = s.results.index(target) // PRODUCT_WINDOW + 1
            if want_page == s.page_num:
                return f"click[{target.lower()}]"
            return "click[next >]" if want_page > s.page_num else "click[< prev]"
        fallback = _queries(env)[-1]
        if s.keywords != fallback:
            env._expert_query = fallback
            return f"search[{fallback}]"
        start = (s.page_num - 1) * PRODUCT_WINDOW
        if s.results[start : start + PRODUCT_WINDOW]:
            return f"click[{s.results[start].lower()}]"
        return "click[back to search]"
    if s.page == "sub" or (s.page == "item" and s.asin != target):
        return "click[< prev]"
    if s.page == "item":
        product = env.catalog.by_asin[target]
        for name, value in wanted_options(product, env.goal).items():
            if s.options.get(name) != value:
                key = value.lower()
                if env._clickables.get(key) == ("option", name, value):
                    return f"click[{key}]"
        return "click[buy now]"
    return "click[back to search]"
