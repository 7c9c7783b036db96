"""Catalog loading (real and generated), goals, prices, splits and the search index."""

from __future__ import annotations

import json
import os

import pytest

from empg_gym.envs.webshop.catalog import build_catalog, process_products, search_document
from empg_gym.envs.webshop.env import WebShopEnv, get_catalog
from empg_gym.envs.webshop.generate import generate_raw
from empg_gym.envs.webshop.goals import PRICE_RANGE, price_cap, split_range
from empg_gym.envs.webshop.search import BuiltinIndex, analyze, make_index


def test_real_catalog_matches_the_original_loader(real_dir, real_catalog):
    docs = [json.loads(line) for line in open(real_dir / "resources_1k_documents.jsonl", encoding="utf-8")]
    assert len(real_catalog.products) == len(docs) == 1000
    for p, d in zip(real_catalog.products, docs, strict=True):
        assert p["asin"] == d["id"]
        for k in (
            "Title",
            "Description",
            "BulletPoints",
            "Price",
            "pricing",
            "options",
            "Attributes",
            "query",
        ):
            assert p[k] == d["product"][k], (p["asin"], k)
        assert search_document(p) == d["contents"]  # the text the original indexed


def test_real_goal_counts(real_dir, real_catalog):
    assert len(real_catalog.goals) == 6910  # "Loaded 6910 goals." (WebShop README, small setting)
    human = get_catalog(
        data_dir=real_dir,
        source=None,
        num_products=None,
        size="1k",
        human_goals=True,
        seed=0,
        goal_order="original",
    )
    assert len(human.goals) == 13 and all(isinstance(g["goal_options"], list) for g in human.goals)
    assert all(g["weight"] == 1 for g in human.goals)


def test_prices_and_caps_are_seeded(real_dir):
    a = build_catalog(data_dir=real_dir, seed=0)
    b = build_catalog(data_dir=real_dir, seed=0)
    c = build_catalog(data_dir=real_dir, seed=1)
    ranged = [p["asin"] for p in a.products if len(p["pricing"]) == 2]
    assert len(ranged) == 93
    assert [a.prices[x] for x in ranged] == [b.prices[x] for x in ranged]
    assert [a.prices[x] for x in ranged] != [c.prices[x] for x in ranged]
    for x in ranged:
        lo, hi = sorted(a.by_asin[x]["pricing"])  # some real ranges are written high - low
        assert lo <= a.prices[x] <= hi
    assert [g["instruction_text"] for g in a.goals] == [g["instruction_text"] for g in b.goals]
    # goal order: the same permutation (seed 233) for every catalog seed; only caps/prices differ
    assert [(g["asin"], g["goal_options"]) for g in a.goals] == [
        (g["asin"], g["goal_options"]) for g in c.goals
    ]
    d = build_catalog(data_dir=real_dir, seed=0, goal_order="seeded")
    assert [g["asin"] for g in a.goals] != [g["asin"] for g in d.goals]


def test_price_cap_rule():
    import random

    for price in (0.5, 9.99, 12.5, 100.0, 955.0):
        above = [p for p in PRICE_RANGE if p > price][:4]
        cap, text = price_cap(price, random.Random(3))
        if len(above) >= 2:
            assert cap in above[1:] and text == f", and price lower than {cap:.2f} dollars"
        else:
            assert (cap, text) == (1000000, "")


def test_splits():
    assert split_range("test", 6910) == range(0, 500)
    assert split_range("valid", 6910) == range(500, 1500)
    assert split_range("train", 6910) == range(1500, 6910)
    with pytest.raises(ValueError, match="split"):
        split_range("dev", 10)


def test_generated_catalog_is_deterministic_and_realistic():
    a = generate_raw(300, seed=5)
    b = generate_raw(300, seed=5)
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(generate_raw(300, seed=6)) != json.dumps(a)
    products, attrs, human = a
    assert len({p["asin"] for p in products}) == 300
    assert {p["category"] for p in products} == {"beauty", "electronics", "fashion", "garden", "grocery"}
    assert any(" - $" in p["pricing"] for p in products) and any(p["pricing"] == "" for p in products)
    assert sum("instruction" in v for v in attrs.values()) > 60 and human
    proc = process_products(products, attrs, human, human_goals=False)
    assert any(len(p["options"]) == 2 for p in proc) and any(not p["options"] for p in proc)


def test_generated_env_sizes():
    env = WebShopEnv(split="all", num_products=100, cache_dir=False)
    assert len(env.catalog.products) == 100
    with pytest.raises(ValueError, match="split 'valid' is empty"):
        WebShopEnv(split="valid", num_products=100, cache_dir=False)


def test_missing_attribute_file_derives_attributes_from_human_annotations(real_dir, tmp_path):
    os.symlink(real_dir / "items_shuffle_1000.reconstructed.json", tmp_path / "items_shuffle_1000.json")
    os.symlink(real_dir / "items_human_ins_1k_subset.json", tmp_path / "items_human_ins.json")
    with pytest.raises(FileNotFoundError, match="items_ins_v2_1000.json"):
        build_catalog(data_dir=tmp_path)
    with pytest.warns(UserWarning, match="derived from the human"):
        cat = build_catalog(data_dir=tmp_path, human_goals=True)
    assert len(cat.goals) == 13
    asin = cat.goals[0]["asin"]
    assert cat.by_asin[asin]["Attributes"] != ["DUMMY_ATTR"]


def test_env_var_selects_real_data(real_dir, monkeypatch):
    monkeypatch.setenv("WEBSHOP_DATA", str(real_dir))
    env = WebShopEnv(cache_dir=False)
    assert env.catalog.source == "real" and len(env.catalog.goals) == 6910
    monkeypatch.setenv("WEBSHOP_DATA", "/nonexistent/webshop")
    with pytest.raises(FileNotFoundError, match="WEBSHOP_DATA"):
        WebShopEnv(cache_dir=False)


def test_bm25s_and_builtin_agree_and_cache(tmp_path, real_catalog):
    docs = [search_document(p) for p in real_catalog.products[:300]]
    a = make_index(docs, "bm25s", cache_dir=tmp_path)
    assert not a.loaded_from_cache and a.cache_path.is_dir()
    a2 = make_index(docs, "bm25s", cache_dir=tmp_path)
    assert a2.loaded_from_cache
    b = BuiltinIndex(docs, lucene_norms=False)  # exact lengths: the same scores as bm25s
    lucene = BuiltinIndex(docs)  # Lucene's quantised lengths: closest to pyserini
    for q in (
        "console table solid wood",
        "women's sneakers size 8",
        "gluten free protein bar",
        "zzzz",
        "the",
    ):
        assert a.search(q) == a2.search(q) == b.search(q)
        assert set(lucene.search(q)) == set(b.search(q))  # the same matches; the order may differ slightly
    assert b.search("the") == [] and len(b.search("black", 50)) <= 50


def test_search_ranks_the_title_first(real_catalog):
    env = WebShopEnv(data_dir=None, source="generated", num_products=200, split="all", cache_dir=False)
    for p in env.catalog.products[:20]:
        assert p["asin"] in env.search(p["Title"].lower())[:3]


def test_full_size_files_are_streamed(tmp_path):
    products, attrs, human = generate_raw(120, seed=1)
    (tmp_path / "items_shuffle.json").write_text(json.dumps(products, indent=1))
    (tmp_path / "items_ins_v2.json").write_text(json.dumps(attrs))
    full = build_catalog(data_dir=tmp_path, size="full", seed=1)
    gen = build_catalog(source="generated", num_products=120, seed=1)
    assert [p["asin"] for p in full.products] == [p["asin"] for p in gen.products]
    assert [g["instruction_text"] for g in full.goals] == [g["instruction_text"] for g in gen.goals]
    (tmp_path / "items_shuffle.json").write_text(json.dumps(products)[:-500])
    with pytest.raises(ValueError, match="corrupt"):
        build_catalog(data_dir=tmp_path, size="full")


def test_pyserini_backend_is_guarded():
    from empg_gym._optional import is_available

    if is_available("pyserini"):
        pytest.skip("pyserini is installed (see the slow parity test)")
    with pytest.raises(gym_error().DependencyNotInstalled, match=r"empg-gym\[pyserini\]"):
        make_index(["a b c"], "pyserini", cache_dir=False)


def gym_error():
    import gymnasium

    return gymnasium.error


def test_real_human_goal_texts_are_in_webshop_human_goals_json(real_dir):
    """WebShop's committed baseline_models/data/human_goals.json (apostrophes stripped) holds our 13 goals."""
    committed = set(json.loads((real_dir / "human_goals.json").read_text()))
    cat = get_catalog(
        data_dir=real_dir,
        source=None,
        num_products=None,
        size="1k",
        human_goals=True,
        seed=0,
        goal_order="original",
    )
    for g in cat.goals:
        text = g["instruction_text"].split(", and price lower than")[0].replace("'", "")
        assert text in committed, text


def test_analyzer_drops_underscore_runs_like_lucene():
    # Lucene's StandardTokenizer (pyserini's Analyzer(get_lucene_analyzer())) gives exactly these tokens:
    # a run of "_" alone is no token, "_" inside or at the edge of a word joins it (UAX#29 ExtendNumLet).
    assert analyze("Cotton ____ shirt") == ["cotton", "shirt"]
    assert analyze("a_b __x y__ _ __ 1_2") == ["a_b", "__x", "y__", "1_2"]
    assert analyze("size_8 ___ red_wine") == ["size_8", "red_win"]
