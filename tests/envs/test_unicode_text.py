"""Env text is Unicode and never rewritten: DeepSearch passages and WebShop titles/options as stored."""

from __future__ import annotations

import copy
import json

import pytest

from empg_gym.envs.deepsearch.env import DeepSearchEnv
from empg_gym.envs.deepsearch.protocol import format_information
from empg_gym.envs.webshop.env import WebShopEnv

PASSAGES = [
    {
        "id": "k1",
        "contents": '"Seoul"\nSeoul (\uc11c\uc6b8\ud2b9\ubcc4\uc2dc) is the capital of South Korea.',
    },
    {
        "id": "k2",
        "contents": '"Caf\u00e9 de Flore"\nThe Caf\u00e9 de Flore is a caf\u00e9, \u201cna\u00efve\u201d.',
    },
    {"id": "k3", "contents": '"Tokyo"\nTokyo (\u6771\u4eac) is the capital of Japan \u2013 \u65e5\u672c.'},
    {"id": "k4", "contents": '"Z\u00fcrich"\nZ\u00fcrich is the largest city in Switzerland.'},
]


@pytest.fixture
def unicode_deepsearch(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PASSAGES), encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    row = {
        "id": "q0",
        "question": "Qu\u2019elle est la capitale de la Cor\u00e9e (\ud55c\uad6d)?",
        "golden_answers": ["\uc11c\uc6b8", "Seoul"],
    }
    questions.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return DeepSearchEnv(
        questions=str(questions), corpus=str(corpus), retriever_kwargs={"cache_dir": str(tmp_path)}
    )


def test_deepsearch_question_and_passages_are_unchanged(unicode_deepsearch):
    env = unicode_deepsearch
    obs, _ = env.reset(seed=0)
    assert obs == "Qu\u2019elle est la capitale de la Cor\u00e9e (\ud55c\uad6d)?"
    obs, _, _, _, info = env.step("<search> capital city </search>")
    by_id = {p["id"]: p["contents"] for p in PASSAGES}
    assert obs == format_information([by_id[i] for i in info["retrieved_doc_ids"]])
    assert len(info["retrieved_doc_ids"]) == 3
    for i in info["retrieved_doc_ids"]:
        assert by_id[i].partition("\n")[2] in obs  # e.g. the Hangul, the curly quotes, the kanji
    assert "\uc11c\uc6b8\ud2b9\ubcc4\uc2dc" in obs and "\u6771\u4eac" in obs
    assert env.observation_space.contains(obs)
    _, r, term, _, info = env.step("<answer> \uc11c\uc6b8 </answer>")
    assert term and r == 1.0 and info["answer"] == "\uc11c\uc6b8"


#: Option values with curly quotes, accents, CJK, brackets and slashes (as the real catalog has).
SPECIAL_VALUES = [
    "cr\u00e8me br\u00fbl\u00e9e",
    "\u201cmidnight\u201d black",
    "\u6771\u4eac blue",
    "6\u2033 | 15cm",
]
SPECIAL_TITLE = "Caf\u00e9 \u201cD\u00e9j\u00e0 Vu\u201d T-Shirt \u2013 \u6771\u4eac Edition \uc11c\uc6b8"


@pytest.fixture
def webshop_with_special_text():
    env = WebShopEnv(split="all", num_products=200, cache_dir=False, title_nouns="heuristic")
    env.catalog = copy.deepcopy(env.catalog)  # the catalog is shared per process: patch a private copy
    env.reset(seed=0, options={"task_index": 0})
    product = env.catalog.by_asin[env.goal["asin"]]
    product["Title"] = SPECIAL_TITLE
    product["options"] = {"color": list(SPECIAL_VALUES), "size": ["x-large"]}
    return env, product


def test_webshop_titles_and_options_are_unchanged_and_clickable(webshop_with_special_text):
    env, product = webshop_with_special_text
    env.step("search[t-shirt]")
    env.state.results = [product["asin"]]  # make sure the patched product is listed
    env._render()
    obs, *_ = env.step(f"click[{product['asin'].lower()}]")
    assert env.state.page == "item"
    assert SPECIAL_TITLE in obs
    for v in SPECIAL_VALUES:
        assert f" [SEP] {v} [SEP] " in obs
        assert f"click[{v}]" in env._admissible_actions()
    for v in SPECIAL_VALUES:
        _, _, _, _, info = env.step(f"click[{v}]")
        assert info["action_valid"], info.get("message")
        assert env.state.options["color"] == v
    _, _, _, _, info = env.step(f"click[{SPECIAL_VALUES[0].upper()}]")  # the argument is lower-cased
    assert info["action_valid"] and env.state.options["color"] == SPECIAL_VALUES[0]
    _, _, _, _, info = env.step("click[creme brulee]")  # no ASCII stand-in for the real value
    assert not info["action_valid"]


def test_webshop_empty_bullet_points_keep_an_empty_field(webshop_with_special_text):
    env, product = webshop_with_special_text
    product["BulletPoints"] = ["first point", "", "  ", "last \u2013 point"]
    env.step("search[t-shirt]")
    env.state.results = [product["asin"]]
    env._render()
    env.step(f"click[{product['asin'].lower()}]")
    obs, *_ = env.step("click[features]")
    assert obs.endswith(" [SEP] < Prev [SEP] first point [SEP]  [SEP]  [SEP] last \u2013 point")
