"""Our reward vs the original WebShop reward, case by case (fixture made outside the project; see its README).

Needs the real 1k catalog and spaCy with en_core_web_sm (the default install); the cases are rebuilt from the
catalog by goal index and ASIN, and every reward component must equal the original's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from empg_gym.envs.webshop.reward import get_reward, nouns_function, spacy_model_available

FIXTURE = Path(__file__).parents[2] / "fixtures/webshop/reward_original.json"
COMPONENTS = ("r_type", "r_att", "r_option", "r_price", "query_match", "category_match", "title_score")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not spacy_model_available(), reason="spaCy + en_core_web_sm not installed"),
]


def _catalog(real_dir, human):
    from empg_gym.envs.webshop.env import get_catalog

    return get_catalog(
        data_dir=real_dir,
        source=None,
        num_products=None,
        size="1k",
        human_goals=human,
        seed=0,
        goal_order="original",
    )


def test_every_component_equals_the_originals(real_dir):
    data = json.loads(FIXTURE.read_text())
    cats = {"synthetic": _catalog(real_dir, False), "human": _catalog(real_dir, True)}
    nouns = nouns_function("spacy")
    for case in data["cases"]:
        cat = cats[case["goal_kind"]]
        goal = cat.goals[case["goal_index"]]
        ours = get_reward(cat.by_asin[case["asin"]], goal, case["price"], case["options"], nouns).as_dict()
        ref = case["original"]
        assert ours["reward"] == pytest.approx(ref["reward"], abs=1e-12), case
        for k in COMPONENTS:
            assert ours[k] == (pytest.approx(ref[k], abs=1e-12) if isinstance(ref[k], float) else ref[k]), (
                k,
                case,
            )
