from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL = Path(os.environ.get("WEBSHOP_TEST_DATA", "/work/shared/data/webshop"))


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not (REAL / "items_ins_v2_1000.json").is_file():
        pytest.skip(f"real WebShop data not found in {REAL} (set WEBSHOP_TEST_DATA)")
    return REAL


@pytest.fixture(scope="session")
def real_catalog(real_dir):
    from empg_gym.envs.webshop.env import get_catalog

    return get_catalog(
        data_dir=real_dir,
        source=None,
        num_products=None,
        size="1k",
        human_goals=False,
        seed=0,
        goal_order="original",
    )
