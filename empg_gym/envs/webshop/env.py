r"""``empg/WebShop-v0``: WebShop (Yao et al., 2022) in its text mode, offline and fast.

An episode: the agent reads a shopping instruction, searches (``search[keywords]``), browses result
pages (10 per page of the top 50 BM25 hits), opens products, reads their sub-pages, selects options and
buys (``click[buy now]``), which ends the episode with WebShop's reward in [0, 1]
(:mod:`empg_gym.envs.webshop.reward`); success means reward == 1.

Faithful to the original text env (``web_agent_text_env.py``): the action regex ``(.+)\\[(.+)\\]`` with the
argument lower-cased; ``search[...]`` from any page; ``click[x]`` only for a clickable of the page other
than ``search``; the ``' [SEP] '``-joined observations; admissible actions as verl-agent lists them
(``search[<your query>]`` on the search page, ``click[x]`` for each clickable). Differences, all for
safety or determinism: an action the original would ignore (no-op) is an *invalid action* with a message
(the page does not change, the reward is 0); searches that are empty after stripping or longer than
``max_search_chars`` are invalid (text is Unicode throughout, as in the original); opening a product
clears the selected options; range prices and price caps are seeded (``catalog_seed``); tasks are drawn
uniformly from the split by
``reset``'s seed (the original draws by goal weight).

Data: the generated catalog by default (no files needed), or the real files with ``data_dir=`` /
``$WEBSHOP_DATA`` (see :mod:`empg_gym.envs.webshop.catalog`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from empg_gym.envs.base import InvalidAction, TextEnv, Transition
from empg_gym.envs.provenance import check_choice, check_int, provenance
from empg_gym.envs.webshop import pages
from empg_gym.envs.webshop.catalog import (
    Catalog,
    build_catalog,
    real_data_files,
    resolve_data_dir,
    search_document,
)
from empg_gym.envs.webshop.goals import SPLITS, split_range
from empg_gym.envs.webshop.reward import get_reward, nouns_function, resolve_tagger

SEARCH_RETURN_N = 50
_ACTION = re.compile(r"(.+)\[(.+)\]")
_CATALOGS: dict[tuple, Catalog] = {}
_INDEXES: dict[tuple, Any] = {}


def get_catalog(**kwargs: Any) -> Catalog:
    """:func:`build_catalog`, memoised per process (catalogs are read-only once built)."""
    key = tuple(sorted((k, str(v)) for k, v in kwargs.items()))
    if key not in _CATALOGS:
        _CATALOGS[key] = build_catalog(**kwargs)
    return _CATALOGS[key]


def get_index(catalog: Catalog, backend: str = "auto", cache_dir: str | os.PathLike | None = None) -> Any:
    """The search index of ``catalog`` (memoised per process, cached on disk by the backend)."""
    from empg_gym.envs.webshop.search import make_index

    key = (id(catalog), backend, str(cache_dir))
    if key not in _INDEXES:
        _INDEXES[key] = make_index([search_document(p) for p in catalog.products], backend, cache_dir)
    return _INDEXES[key]


class WebShopEnv(TextEnv):
    """WebShop's text env; see the module docstring.

    Args:
        split: ``"test"`` (goals 0-499), ``"valid"`` (500-1499), ``"train"`` (1500+) or ``"all"``.
        data_dir: Folder with the real data files (default: ``$WEBSHOP_DATA``; unset = generated catalog).
        source: ``"generated"`` or ``"real"`` to force a source (default: real iff a data folder is set).
        num_products: Generated catalog size (default 1000; 100 to 100,000), or the first N real products.
        size: Real data size, ``"1k"`` or ``"full"``.
        human_goals: Human-annotated goals instead of synthetic ones.
        catalog_seed: Seeds range prices, price caps (and the generator); fixed per env, not per episode.
        goal_order: ``"original"`` (WebShop's seed-233 shuffle) or ``"seeded"`` (uses ``catalog_seed``).
        search_backend: ``"builtin"`` (default: numpy BM25 with Lucene's lossy document lengths, the
            closest to the original's Lucene ranking and as fast as bm25s at this size), ``"bm25s"``,
            ``"auto"`` (bm25s when installed, else builtin) or ``"pyserini"`` (Lucene itself).
        cache_dir: Index cache root (default ``$EMPG_CACHE`` or ``~/.cache/empg_gym``).
        show_attrs: Show the ``Attributes`` sub-page button (off in the original's default).
        title_nouns: Title-noun tagger of the type reward: ``"spacy"`` (the original's ``en_core_web_sm``),
            ``"heuristic"`` (no dependency, faster) or ``"auto"`` (spaCy when installed).
        max_search_chars: Longest accepted search argument.
        render_mode: ``"ansi"`` or ``"human"``.

    >>> env = WebShopEnv(num_products=200, split="all")
    >>> obs, info = env.reset(seed=0, options={"task_index": 3})
    >>> obs.startswith("WebShop [SEP] Instruction: [SEP] ")
    True
    >>> done = False
    >>> while not done:
    ...     obs, reward, done, truncated, info = env.step(env.expert_action())
    >>> reward, info["won"]
    (1.0, True)
    """

    def __init__(
        self,
        split: str = "test",
        *,
        data_dir: str | os.PathLike | None = None,
        source: str | None = None,
        num_products: int | None = None,
        size: str = "1k",
        human_goals: bool = False,
        catalog_seed: int = 0,
        goal_order: str = "original",
        search_backend: str = "builtin",
        cache_dir: str | os.PathLike | None = None,
        show_attrs: bool = False,
        title_nouns: str = "auto",
        max_search_chars: int = 500,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode)
        check_choice("split", split, tuple(SPLITS))
        check_choice("size", size, ("1k", "full"))
        check_choice("goal_order", goal_order, ("original", "seeded"))
        check_choice("search_backend", search_backend, ("auto", "bm25s", "builtin", "pyserini"))
        check_choice("title_nouns", title_nouns, ("auto", "spacy", "heuristic"))
        check_int("catalog_seed", catalog_seed, -(2**63), 2**63 - 1)
        check_int("num_products", num_products, 1, 2_000_000, none_ok=True)
        self.max_search_chars = check_int("max_search_chars", max_search_chars, 1, 100_000)
        if source is not None:
            check_choice("source", source, ("real", "generated"))
        folder = resolve_data_dir(data_dir)
        self.catalog = get_catalog(
            data_dir=folder,
            source=source,
            num_products=num_products,
            size=size,
            human_goals=human_goals,
            seed=catalog_seed,
            goal_order=goal_order,
        )
        self.index = get_index(self.catalog, search_backend, cache_dir)
        self.split = split
        self._goal_ids = list(split_range(split, len(self.catalog.goals)))
        if not self._goal_ids:
            raise ValueError(
                f"split {split!r} is empty: the catalog ({self.catalog.description}) has "
                f"{len(self.catalog.goals)} goals; use a larger catalog or split='all'"
            )
        self._task_ids = tuple(f"goal-{i}" for i in self._goal_ids)
        self.show_attrs = bool(show_attrs)
        #: The title-noun tagger of the type reward actually used: ``"spacy:<model>-<version> (...)"`` or
        #: ``"heuristic"`` (also ``info["title_nouns"]`` and in :meth:`data_provenance`).
        self.title_nouns = resolve_tagger(title_nouns)
        self._nouns = nouns_function("spacy" if self.title_nouns.startswith("spacy") else "heuristic")
        self._files = real_data_files(folder, size) if self.catalog.source == "real" and folder else {}
        self._prov_params = {
            "split": split,
            "size": size if self.catalog.source == "real" else None,
            "num_products": len(self.catalog.products),
            "human_goals": bool(human_goals),
            "catalog_seed": catalog_seed,
            "goal_order": goal_order,
            "search_backend": getattr(self.index, "backend", search_backend),
            "title_nouns": self.title_nouns,
            "show_attrs": self.show_attrs,
        }
        self.goal: dict[str, Any] = {}
        self.state = pages.PageState()
        self._clickables: dict[str, Any] = {}
        self._expert_query: str | None = None

    # ------------------------------------------------------------------ provenance
    def data_provenance(self) -> dict[str, Any]:
        """What the episodes come from (see :mod:`empg_gym.envs.provenance`).

        Real data: the content hashes of the product, attribute and human-goal files read; generated: the
        generator's size and seed. Both: the split, goal kind and order, the search backend and the
        title-noun tagger (both change which products are found and how purchases are scored).
        """
        if self.catalog.source == "real":
            return provenance("real", "webshop", self._files, self._prov_params)
        return provenance("generated", "webshop-generated", params=self._prov_params)

    def _info(self, *, action_valid: bool, **extra: Any) -> dict[str, Any]:
        info = super()._info(action_valid=action_valid, **extra)
        info["title_nouns"] = self.title_nouns
        return info

    # ------------------------------------------------------------------ helpers
    @property
    def task_ids(self) -> tuple[str, ...]:
        """Task ids of this split, in goal order."""
        return self._task_ids

    def _product(self) -> dict[str, Any] | None:
        return self.catalog.by_asin.get(self.state.asin) if self.state.asin else None

    def _render(self) -> str:
        self._clickables = pages.clickables(self.state, self._product(), self.show_attrs)
        return pages.render(self.state, self.task, self.catalog.by_asin, self.show_attrs)

    def search(self, keywords: str) -> list[str]:
        """The ASINs a search returns, as the original's ``get_top_n_product_from_keywords``.

        Keywords starting with ``<r>`` (random 50, from the env's RNG), ``<a> attribute``, ``<c> category``
        or ``<q> query`` select products directly; anything else is a BM25 search for the top 50.
        """
        kw = keywords.split(" ")
        products = self.catalog.products
        if kw[0] == "<r>":
            n = min(SEARCH_RETURN_N, len(products))
            return [
                products[int(i)]["asin"] for i in self.np_random.choice(len(products), size=n, replace=False)
            ]
        if kw[0] == "<a>":
            attr = " ".join(kw[1:]).strip()
            return [p["asin"] for p in products if attr in p["Attributes"]]
        if kw[0] == "<c>":
            cat = kw[1].strip() if len(kw) > 1 else ""
            return [p["asin"] for p in products if p.get("category") == cat]
        if kw[0] == "<q>":
            q = " ".join(kw[1:]).strip()
            return [p["asin"] for p in products if p["query"] == q]
        return [products[i]["asin"] for i in self.index.search(" ".join(kw), SEARCH_RETURN_N)]

    # ------------------------------------------------------------------ contract
    def _reset_task(self, options: dict[str, Any]) -> str:
        i = self._pick_index(options, self._task_ids)
        self.goal = self.catalog.goals[self._goal_ids[i]]
        self.task_id = self._task_ids[i]
        self.task = self.goal["instruction_text"]
        self.state = pages.PageState()
        self._expert_query = None
        return self._render()

    def _parse(self, action: str) -> tuple:
        m = _ACTION.match(action)
        if m is None:
            raise InvalidAction(
                "Invalid action: use search[keywords] or click[text of a button, product or option], "
                "e.g. click[back to search]. The page did not change."
            )
        name, arg = m.group(1), m.group(2).lower()
        if name == "search":
            query = arg.strip()
            if not query:
                raise InvalidAction("Invalid action: the search is empty. Use search[keywords].")
            if len(arg) > self.max_search_chars:
                raise InvalidAction(
                    f"Invalid action: the search is longer than {self.max_search_chars} "
                    "characters. Use a few keywords."
                )
            return ("search", arg)
        if name == "click":
            if arg == "search":
                raise InvalidAction("Invalid action: to search, use search[keywords].")
            if arg not in self._clickables:
                shown = ", ".join(k for k in self._clickables if k != "search") or "nothing (use search[...])"
                if len(shown) > 400:
                    shown = shown[:400] + "..."
                raise InvalidAction(
                    f"Invalid action: {arg[:80]!r} is not clickable on this page. "
                    f"Clickable: {shown}. The page did not change."
                )
            return ("click", self._clickables[arg])
        raise InvalidAction(f"Invalid action {name[:40]!r}: the actions are search[keywords] and click[...].")

    def _transition(self, parsed: tuple) -> Transition:
        kind, arg = parsed
        s = self.state
        if kind == "search":
            self.state = pages.PageState(page="results", keywords=arg, results=self.search(arg), page_num=1)
            return Transition(self._render())
        what = arg[0]
        if what == "back":
            self.state = pages.PageState()
        elif what == "next":
            s.page_num += 1
        elif what == "prev":
            if s.page == "results":
                s.page_num = max(1, s.page_num - 1)
            elif s.page == "item":
                s.page, s.asin, s.options = "results", "", {}
            else:
                s.page, s.sub = "item", ""
        elif what == "item":
            s.page, s.asin, s.options = "item", arg[1], {}
        elif what == "option":
            s.options[arg[1]] = arg[2]
        elif what == "sub":
            s.page, s.sub = "sub", arg[1]
        elif what == "buy":
            product = self.catalog.by_asin[s.asin]
            details = get_reward(product, self.goal, self.catalog.prices[s.asin], s.options, self._nouns)
            r = details.reward
            s.page = "done"
            obs = pages.render_done(s.asin, s.options, r)
            info = {
                "reward_details": details.as_dict(),
                "purchased_asin": s.asin,
                "purchased_options": dict(s.options),
            }
            return Transition(obs, r, True, r == 1.0, r, info)
        return Transition(self._render())

    def _admissible_actions(self) -> list[str]:
        acts = ["search[<your query>]"] if self.state.page == "search" else []
        return acts + [f"click[{k}]" for k in self._clickables if k != "search"]

    def expert_action(self) -> str:
        """The goal-using expert's next action (see :mod:`empg_gym.envs.webshop.expert`)."""
        from empg_gym.envs.webshop.expert import expert_action

        return expert_action(self)
