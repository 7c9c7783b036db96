"""ALFWorld simulator vs alfworld 0.4.2's TextWorld engine on recorded real-game episodes (made outside).

The fixture (``tests/fixtures/alfworld/tw_reference.json``, see its README) holds episodes played on the real
engine: objects taken from one receptacle and put into another at the same location, back and forth (what
``look``'s "Next to it" lists), and walkthroughs (the admissible commands on the winning step).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from empg_gym.envs.alfworld.env import ALFWorldEnv
from empg_gym.envs.alfworld.pddl import load_game
from empg_gym.envs.alfworld.world import World

DATA = Path(os.environ.get("ALFWORLD_DATA", "/work/shared/data/alfworld"))
FIXTURE = json.loads((Path(__file__).parents[2] / "fixtures/alfworld/tw_reference.json").read_text())
pytestmark = pytest.mark.skipif(
    not (DATA / "json_2.1.1").is_dir(),
    reason=f"real ALFWorld games not found (set ALFWORLD_DATA; tried {DATA})",
)


def _episodes(kind):
    return [e for e in FIXTURE["episodes"] if e["kind"] == kind]


def test_every_step_matches_textworld_including_look():
    looks = nonempty = duplicates = 0
    for ep in _episodes("look"):
        w = World(load_game(DATA / ep["game"]))
        assert w.intro() == ep["steps"][0]["obs"]
        assert w.admissible() == ep["steps"][0]["admissible"]
        for s in ep["steps"][1:]:
            obs, _ = w.step(s["command"])
            assert obs == s["obs"], (ep["game"], s["command"])
            assert w.admissible() == s["admissible"], (ep["game"], s["command"])
            assert w.won() == s["won"]
            if s["command"] == "look":
                looks += 1
                nonempty += "you see nothing" not in obs
                items = obs.split("Next to it, you see ")[-1].rstrip(".").replace(", and ", ", ").split(", ")
                duplicates += len(items) != len(set(items))
    assert (looks, nonempty, duplicates) == (302, 144, 2)  # the fixture exercises "Next to it" lists


def test_admissible_actions_on_the_winning_step_are_textworlds():
    for ep in _episodes("walkthrough"):
        env = ALFWorldEnv(split=ep["game"].split("/")[1], data_dir=DATA)
        task_id = ep["game"].split("/", 1)[1].rsplit("/", 1)[0]
        env.reset(options={"task_id": task_id})
        for s in ep["steps"][1:]:
            _, reward, term, _, info = env.step(s["command"])
        assert term and reward == 1.0 and s["won"]
        assert info["admissible_actions"] == s["admissible"]
