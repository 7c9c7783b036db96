"""WebShop env behaviour on a small generated catalog (fast, no data needed)."""

from __future__ import annotations

import gymnasium as gym
import pytest

import empg_gym  # noqa: F401
from empg_gym.envs.webshop.env import WebShopEnv

SEP = " [SEP] "


@pytest.fixture(scope="module")
def env():
    return WebShopEnv(split="all", num_products=300, cache_dir=False, title_nouns="heuristic")


def _play_expert(env, index):
    obs, info = env.reset(seed=0, options={"task_index": index})
    for _ in range(15):
        obs, r, term, trunc, info = env.step(env.expert_action())
        if term:
            return r, info
    return 0.0, info


def test_registered_with_15_steps():
    spec = gym.spec("empg/WebShop-v0")
    assert spec.max_episode_steps == 15
    assert (
        "generated" in empg_gym.envs.DATA_STATUS["empg/WebShop-v0"]()
        or "WEBSHOP_DATA" in empg_gym.envs.DATA_STATUS["empg/WebShop-v0"]()
    )


def test_search_page_text_and_actions(env):
    obs, info = env.reset(seed=1, options={"task_index": 0})
    assert obs == f"WebShop [SEP] Instruction: [SEP] {info['task']} [SEP] Search"
    assert info["admissible_actions"] == ["search[<your query>]"]
    assert info["task"] == env.goal["instruction_text"]


def test_results_item_and_subpages(env):
    obs, info = env.reset(seed=1, options={"task_index": 0})
    obs, r, term, _, info = env.step(f"search[{env.catalog.by_asin[env.goal['asin']]['query']}]")
    parts = obs.split(SEP)
    assert parts[:4] == [
        "Instruction:",
        info["task"],
        "Back to Search",
        f"Page 1 (Total results: {len(env.state.results)})",
    ]
    assert parts[4] == "Next >" and "< Prev" not in parts[:6]
    first = env.state.results[0]
    p = env.catalog.by_asin[first]
    assert parts[5:8] == [first, p["Title"], p["Price"]]
    assert info["admissible_actions"][:2] == ["click[back to search]", "click[next >]"]
    obs, r, term, _, info = env.step("click[next >]")
    assert obs.split(SEP)[3].startswith("Page 2") and obs.split(SEP)[4] == "< Prev"
    obs, *_ = env.step("click[< prev]")
    obs, r, term, _, info = env.step(f"click[{first.lower()}]")
    parts = obs.split(SEP)
    assert parts[2:4] == ["Back to Search", "< Prev"]
    assert parts[-7:] == [
        p["Title"],
        f"Price: {p['Price']}",
        "Rating: N.A.",
        "Description",
        "Features",
        "Reviews",
        "Buy Now",
    ]
    assert info["admissible_actions"][:6] == [
        "click[back to search]",
        "click[< prev]",
        "click[description]",
        "click[features]",
        "click[reviews]",
        "click[buy now]",
    ]
    obs, *_ = env.step("click[features]")
    assert obs.split(SEP)[4:] == [b.strip() for b in p["BulletPoints"] if b.strip()]
    obs, *_ = env.step("click[< prev]")
    obs, *_ = env.step("click[reviews]")
    assert obs.split(SEP)[-1] == "< Prev"
    obs, *_ = env.step("click[back to search]")
    assert obs.startswith("WebShop [SEP] Instruction:")


@pytest.mark.parametrize(
    "action",
    [
        "click[nothing here]",
        "click[search]",
        "search[]",
        "search[   ]",
        "search[" + "x" * 10_000 + "]",
        "Search[shoes]",
        "click[b000000000]",
        "buy now",
        "search[[",
    ],
)
def test_bad_actions_are_invalid_and_change_nothing(env, action):
    obs0, info0 = env.reset(seed=2, options={"task_index": 1})
    obs, r, term, trunc, info = env.step(action)
    assert info["action_valid"] is False and r == 0.0 and not term
    assert info["message"]
    assert env.step("click[back to search]")[4]["action_valid"] is False  # still on the search page
    obs, *_ = env.step("search[shoes]")
    assert obs.startswith("Instruction:")


@pytest.mark.parametrize(
    "query",
    ["women\u2019s caf\u00e9 shoes", "\u6f22\u5b57", "shoes \U0001f642", "a\x00b", "\ud55c\uad6d\uc5b4"],
)
def test_unicode_searches_are_kept_as_typed(env, query):
    env.reset(seed=0, options={"task_index": 0})
    obs, r, term, trunc, info = env.step(f"search[{query}]")
    assert info["action_valid"] and env.state.keywords == query.lower()
    assert env.state.page == "results"


def test_search_from_any_page_resets_options(env):
    env.reset(seed=0, options={"task_index": 2})
    env.step("search[shampoo]")
    env.step(f"click[{env.state.results[0].lower()}]")
    assert env.state.page == "item"
    env.step("search[lipstick]")
    assert env.state.page == "results" and env.state.options == {} and env.state.asin == ""


def test_special_keywords(env):
    env.reset(seed=0, options={"task_index": 0})
    cat = env.catalog.products[0]["category"]
    assert env.search(f"<c> {cat}") == [p["asin"] for p in env.catalog.products if p["category"] == cat]
    q = env.catalog.products[0]["query"]
    assert env.search(f"<q> {q}") == [p["asin"] for p in env.catalog.products if p["query"] == q]
    assert len(env.search("<r>")) == 50


def test_expert_wins(env):
    results = [_play_expert(env, i)[0] for i in range(40)]
    assert sum(r == 1.0 for r in results) >= 38


def test_buy_ends_the_episode_with_reward_details(env):
    env.reset(seed=0, options={"task_index": 5})
    env.step("search[the]")  # only stop words: no results
    assert env.state.results == []
    env.step("search[shoes]")
    env.step(f"click[{env.state.results[0].lower()}]")
    obs, r, term, trunc, info = env.step("click[buy now]")
    assert term and 0.0 <= r <= 1.0 and info["score"] == r
    assert set(info["reward_details"]) >= {"r_type", "n_att", "n_opt", "r_price"}
    assert "Your score (min 0.0, max 1.0)" in obs


def test_missing_data_file_names_file_variable_and_source(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"items_shuffle_1000\.json.*WEBSHOP_DATA.*setup\.sh"):
        WebShopEnv(data_dir=tmp_path)


def test_corrupt_data_file(tmp_path):
    (tmp_path / "items_shuffle_1000.json").write_text("[{not json")
    (tmp_path / "items_ins_v2_1000.json").write_text("{}")
    with pytest.raises(ValueError, match="items_shuffle_1000.json is corrupt"):
        WebShopEnv(data_dir=tmp_path)


def test_expert_info_wrapper_through_gym_make():
    from empg_gym.wrappers.expert import ExpertInfo

    env = ExpertInfo(
        gym.make("empg/WebShop-v0", num_products=300, split="all", cache_dir=False, title_nouns="heuristic")
    )
    wins = 0
    for i in range(5):
        obs, info = env.reset(seed=i)
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(info["expert_action"])
            done = term or trunc
        wins += info["won"]
        assert info["expert_action"] is None
    assert wins >= 4
