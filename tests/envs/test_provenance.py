"""data_provenance() on every env, and clear errors for bad data folders and out-of-range kwargs."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import gymnasium as gym
import pytest

import empg_gym  # noqa: F401
from empg_gym.envs.alfworld.env import ALFWorldEnv, GameSet
from empg_gym.envs.base import TextEnv
from empg_gym.envs.provenance import check_int, file_digest
from empg_gym.envs.toy.guess_number import GuessNumberEnv
from empg_gym.envs.toy.key_door import KeyDoorEnv
from empg_gym.envs.webshop.env import WebShopEnv

ALFWORLD = Path("/work/shared/data/alfworld")
WEBSHOP = Path("/work/shared/data/webshop")
FAST_IDS = [
    "empg/GuessNumber-v0",
    "empg/KeyDoor-v0",
    "empg/WebShop-v0",
    "empg/ALFWorld-v0",
    "empg/DeepSearch-v0",
]


@pytest.mark.parametrize("env_id", FAST_IDS)
def test_every_env_has_a_stable_json_provenance(env_id, monkeypatch):
    for var in ("WEBSHOP_DATA", "ALFWORLD_DATA", "EMPG_DEEPSEARCH_QUESTIONS", "EMPG_DEEPSEARCH_CORPUS"):
        monkeypatch.delenv(var, raising=False)
    kw = {"retriever": "builtin"} if "DeepSearch" in env_id else {}
    a = gym.make(env_id, **kw).unwrapped.data_provenance()
    assert set(a) == {"kind", "source", "files", "params"}
    assert a["kind"] in ("builtin", "generated") and a["files"] == {}
    assert json.loads(json.dumps(a)) == a
    assert gym.make(env_id, **kw).unwrapped.data_provenance() == a


def test_toy_provenance_and_bounds():
    assert GuessNumberEnv(n=8).data_provenance() == {
        "kind": "builtin",
        "source": "GuessNumber",
        "files": {},
        "params": {"n": 8},
    }
    assert KeyDoorEnv(size=2, num_tasks=5).data_provenance()["params"] == {"size": 2, "num_tasks": 5}
    with pytest.raises(ValueError, match=r"n must be an integer in \[2, 100000\], got 1000000000000"):
        GuessNumberEnv(n=10**12)  # used to allocate 24 GB of task ids
    for bad in (1, 2.5, "16", True, None):
        with pytest.raises(ValueError, match="^n must be"):
            GuessNumberEnv(n=bad)
    with pytest.raises(ValueError, match="num_tasks"):
        KeyDoorEnv(num_tasks=10**12)
    with pytest.raises(ValueError, match="size"):
        KeyDoorEnv(size=5)
    with pytest.raises(ValueError, match="max_obs_length"):
        TextEnv(max_obs_length=0)


def test_check_int_accepts_numpy_integers():
    import numpy as np

    assert check_int("k", np.int64(3), 1, 5) == 3
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        check_int("k", np.float64(3.0), 1)


def test_generated_webshop_provenance_names_the_generator_and_scoring():
    env = WebShopEnv(num_products=200, split="all", cache_dir=False, title_nouns="heuristic")
    p = env.data_provenance()
    assert p["kind"] == "generated" and p["source"] == "webshop-generated"
    assert p["params"]["num_products"] == 200 and p["params"]["catalog_seed"] == 0
    assert p["params"]["title_nouns"] == "heuristic" and p["params"]["search_backend"] == "builtin"
    other = WebShopEnv(
        num_products=200, split="all", cache_dir=False, title_nouns="heuristic", catalog_seed=1
    )
    assert other.data_provenance() != p
    _, info = env.reset(seed=0)
    assert info["title_nouns"] == "heuristic"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"split": "dev"}, "split"),
        ({"num_products": 0}, "num_products"),
        ({"num_products": 10**12}, "num_products"),
        ({"max_search_chars": -1}, "max_search_chars"),
        ({"search_backend": "lucene"}, "search_backend"),
        ({"title_nouns": "nltk"}, "title_nouns"),
        ({"source": "fake"}, "source"),
        ({"catalog_seed": 1.5}, "catalog_seed"),
    ],
)
def test_webshop_bad_kwargs(kwargs, name):
    with pytest.raises(ValueError, match=name):
        WebShopEnv(**kwargs)


@pytest.mark.skipif(not (WEBSHOP / "items_ins_v2_1000.json").is_file(), reason="real WebShop data not here")
def test_real_webshop_provenance_hashes_the_files_read(monkeypatch):
    env = WebShopEnv(data_dir=WEBSHOP, title_nouns="heuristic", cache_dir=False, search_backend="builtin")
    p = env.data_provenance()
    assert p["kind"] == "real" and p["source"] == "webshop"
    assert set(p["files"]) >= {"items_ins_v2_1000.json"}
    name = next(n for n in p["files"] if n.startswith("items_shuffle_1000"))
    assert p["files"][name] == "sha256:" + hashlib.sha256((WEBSHOP / name).read_bytes()).hexdigest()
    monkeypatch.setenv("WEBSHOP_DATA", str(WEBSHOP))
    same = WebShopEnv(title_nouns="heuristic", cache_dir=False, search_backend="builtin").data_provenance()
    assert same == p  # chosen by the environment variable: same provenance


def test_alfworld_wrong_or_empty_data_dir_is_an_error_naming_it(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope")):
        ALFWorldEnv(data_dir=tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}.*json_2.1.1/valid_seen"):
        ALFWorldEnv(data_dir=tmp_path)
    monkeypatch.setenv("ALFWORLD_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ALFWORLD_DATA"):
        ALFWorldEnv()
    assert ALFWorldEnv(source="generated").data_source == "generated"  # explicit: no error


def test_alfworld_generated_provenance():
    p = ALFWorldEnv(source="generated", num_games=10).data_provenance()
    assert p == {
        "kind": "generated",
        "source": "alfworld-generated",
        "files": {},
        "params": {"split": "valid_seen", "num_games": 10, "task_types": None, "seed": 0},
    }


@pytest.mark.skipif(
    not (ALFWORLD / "json_2.1.1" / "valid_seen").is_dir(), reason="real ALFWorld data not here"
)
def test_alfworld_real_provenance_and_loud_train_fallback(monkeypatch):
    env = ALFWorldEnv(split="valid_seen", data_dir=ALFWORLD, num_games=3)
    p = env.data_provenance()
    assert p["kind"] == "real" and len(p["files"]) == 3
    rel, digest = next(iter(sorted(p["files"].items())))
    assert rel.startswith("valid_seen/") and rel.endswith("/game.tw-pddl")
    assert digest == file_digest(ALFWORLD / "json_2.1.1" / rel)
    monkeypatch.setenv("ALFWORLD_DATA", str(ALFWORLD))
    with pytest.warns(UserWarning, match="no real train games.*GENERATED"):
        train = ALFWorldEnv(split="train", num_games=2)
    assert train.data_source == "generated"
    assert "no real train games" in train.data_provenance()["params"]["data_note"]
    _, info = train.reset(seed=0)
    assert info["data_source"] == "generated" and "no real train games" in info["data_note"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GameSet("train", source="generated")  # asked for generated games: no warning
    with pytest.raises(FileNotFoundError, match="train"):
        GameSet("train", source="real")


def test_file_digest_is_cached_and_tracks_changes(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("a")
    d1 = file_digest(f)
    assert d1 == "sha256:" + hashlib.sha256(b"a").hexdigest() and file_digest(f) == d1
    f.write_text("bb")
    assert file_digest(f) == "sha256:" + hashlib.sha256(b"bb").hexdigest()
    with pytest.raises(FileNotFoundError, match="missing.json"):
        file_digest(tmp_path / "missing.json")
