"""Templates against the real envs: what a model would answer, projected, is what the env accepts.

A "format-following expert" answers every turn as the prompt asks (``<think>..</think><action>..</action>``
around the scripted expert's action); its responses must project to valid actions and win, and every prompt
must show the task, the observation and the admissible actions.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import pytest

import empg_gym  # noqa: F401
from empg_gym.agent import ActionSample
from empg_gym.prompting import SearchR1Template, get_template
from empg_gym.rollout import collect
from empg_gym.types import History


class FormatFollowingExpert:
    needs_expert = True

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        out = []
        for h in histories:
            t = get_template("auto", h.env_id)
            prompt = t.user_message(h, 2)
            self.prompts.append(prompt)
            assert h.observation.strip()[:40] in prompt
            a = h.info["expert_action"]
            if isinstance(t, SearchR1Template):  # the expert already speaks in tags
                text = f"<think>The expert would do this.</think>\n{a}"
                want = text  # Search-R1's parsing passes the cut response on (the env parses it the same way)
            else:
                assert all(f"'{x}'" in prompt for x in h.admissible_actions or ())
                text = f"<think>The expert would do this.</think>\n<action>{a}</action>"
                want = " ".join(a.split()).lower()
            p = t.parse(text, h)
            assert p.format_valid and p.action == want
            out.append(ActionSample(text=text, action=p.action, format_valid=p.format_valid, prompt=prompt))
        return out


ENVS = [
    "empg/KeyDoor-v0",
    "empg/GuessNumber-v0",
    "empg/ALFWorld-v0",
    pytest.param("empg/DeepSearch-v0", marks=pytest.mark.slow),  # builds the generated world and index (~3 s)
    pytest.param("empg/WebShop-v0", marks=pytest.mark.slow),  # the first search builds an index (~8 s)
]


@pytest.mark.parametrize("env_id", ENVS)
def test_projected_expert_answers_are_valid_and_win(env_id):
    if env_id not in gym.registry:
        pytest.skip(f"{env_id} not registered")
    agent = FormatFollowingExpert()
    trajs = collect(agent, env_id, tasks=2, progress=False)
    for t in trajs:
        assert t.won, [x.action for x in t.turns]
        assert all(x.format_valid and x.action_valid for x in t.turns)
        assert t.task.rstrip("?") in t.turns[0].prompt
    if len(trajs[0]) > 1:
        marker = "Step 1: " if env_id.startswith("empg/DeepSearch") else "[Observation 1:"
        assert marker in agent.prompts[1] or marker in agent.prompts[2]


def test_webshop_and_alfworld_prompts_name_their_benchmark():
    h = History("empg/WebShop-v0", "buy shoes", (), "WebShop [SEP] Search", ("search[<your query>]",))
    assert "WebShop" in get_template("auto", h.env_id).user_message(h, 2)
    h = History("empg/ALFWorld-v0", "heat a cup", (), "You are in a room.", ("look",))
    assert "household" in get_template("auto", h.env_id).user_message(h, 2)
