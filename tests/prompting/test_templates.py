"""Prompt templates: what the prompt shows and how raw text projects to an action."""

from __future__ import annotations

import pytest

from empg_gym.prompting import TEMPLATES, get_template
from empg_gym.prompting.templates import ReActTemplate, SearchR1Template
from empg_gym.types import History, Turn

REACT = ReActTemplate(name="react")
SEARCH = SearchR1Template(name="search_r1")


def keydoor_history(n_turns: int) -> History:
    turns = tuple(
        Turn(observation=f"obs {i}", action=f"go {d}")
        for i, d in zip(range(n_turns), ["north", "south", "east", "west", "north"], strict=False)
    )
    return History(
        "empg/KeyDoor-v0", "open the door", turns, "You are in the red room.", ("go east", "take key")
    )


@pytest.mark.parametrize(
    "text, action, valid, error",
    [
        ("<think>the key is east</think>\n<action>go east</action>", "go east", True, ""),
        ("<think>x</think><action>  Take   KEY </action>", "take key", True, ""),
        ("<action>go east</action>", "go east", False, "missing <think>...</think>"),
        ("<action>go east</action><think>late</think>", "go east", False, "missing <think>...</think>"),
        ("<think>x</think> go east", "", False, "no <action>...</action> block"),
        ("<think>x</think><action>go east", "", False, "no <action>...</action> block"),
        ("<think>x</think><action> </action>", "", False, "empty <action> block"),
        (
            "<think>x</think><action>go east</action><action>go west</action>",
            "go east",
            False,
            "2 <action> blocks, expected one",
        ),
        ("<think>向东</think><action>go east</action>", "go east", False, "CJK characters in the response"),
        ("<THINK>x</THINK><ACTION>go east</ACTION>", "go east", True, ""),
        ("", "", False, "no <action>...</action> block"),
    ],
)
def test_react_projection(text, action, valid, error):
    p = REACT.parse(text)
    assert (p.action, p.format_valid, p.error) == (action, valid, error)


def test_react_prompt_shows_task_recent_history_observation_and_actions():
    msgs = REACT.messages(keydoor_history(3), history_length=2)
    assert [m["role"] for m in msgs] == ["user"]
    text = msgs[0]["content"]
    assert "Your task is to: open the door" in text
    assert "obs 0" not in text and "[Observation 2: 'obs 1', Action 2: 'go south']" in text
    assert "[Observation 3: 'obs 2', Action 3: 'go east']" in text
    assert "taken 3 step(s)" in text and "You are now at step 4" in text
    assert "You are in the red room." in text
    assert "'go east',\n'take key'" in text
    assert "<think> </think>" in text and "<action> </action>" in text


def test_react_history_length_zero_and_first_step_and_open_action_set():
    text = REACT.user_message(keydoor_history(3), 0)
    assert "Observation" not in text and "You are now at step 4" in text
    first = REACT.user_message(keydoor_history(0), 2)
    assert "Before this step" not in first and "step 1." in first
    h = History("empg/X-v0", "t", (), "o", None)
    assert "admissible" not in REACT.user_message(h, 2) and REACT.actions_hint in REACT.user_message(h, 2)


def test_react_drops_history_block_when_too_long():
    t = ReActTemplate(name="r", max_history_chars=20)
    assert "Observation 1" not in t.user_message(keydoor_history(1), 2)


@pytest.mark.parametrize(
    "text, action, valid",
    [
        (
            "<think>need info</think>\n<search> capital of  France </search>",
            "<search> capital of France </search>",
            True,
        ),
        ("<think>ok</think><answer> Paris </answer>", "<answer> Paris </answer>", True),
        ("<search>a</search><answer>b</answer>", "<search> a </search>", True),  # cut after </search>
        ("<answer>Paris</answer> then <search>x</search>", "<answer> Paris </answer>", False),  # both tags
        ("<search><answer>b</answer></search>", "<search> <answer>b</answer> </search>", False),
        ("<search> </search>", "<search>  </search>", False),
        ("I think it is Paris", "", False),
    ],
)
def test_search_r1_strict_projection(text, action, valid):
    p = SearchR1Template(name="s", parsing="strict").parse(text)
    assert (p.action, p.format_valid) == (action, valid)


@pytest.mark.parametrize(
    "text, action, valid",
    [
        (
            "<think>i</think>\n<search> capital of  France </search> junk",
            "<think>i</think>\n<search> capital of  France </search>",
            True,
        ),
        ("<search>a</search><answer>b</answer>", "<search>a</search>", True),  # cut after </search>
        (
            "<answer>Paris</answer> then <search>x</search>",
            "<answer>Paris</answer> then <search>x</search>",
            True,
        ),
        ("<search> </search>", "<search> </search>", True),  # Search-R1 executes an empty search
        ("<Search>q</Search>", "", False),  # case-sensitive: no block
        ("I think it is Paris", "", False),
    ],
)
def test_search_r1_default_projection_is_search_r1s(text, action, valid):
    p = SEARCH.parse(text)
    assert (p.action, p.format_valid) == (action, valid)


def test_search_r1_bracket_format_and_prompt():
    bracket = SearchR1Template(name="s", action_format="bracket")
    assert bracket.parse("<search>q</search>").action == "search[q]"
    h = History(
        "empg/DeepSearch-v0",
        "who wrote Hamlet",
        (Turn(observation="who wrote Hamlet", action="<search> hamlet author </search>"),),
        "Doc 1 (Title: Hamlet) by Shakespeare",
    )
    text = SEARCH.user_message(h, 4)
    assert text.startswith("Answer the given question.") and "Question: who wrote Hamlet?" in text
    assert (
        "Step 1: <search> hamlet author </search>\n<information>Doc 1 (Title: Hamlet) by Shakespeare"
        "</information>" in text
    )


def test_auto_picks_per_env():
    assert get_template("auto", "empg/WebShop-v0").name == "webshop"
    assert get_template("auto", "empg/ALFWorld-v0").name == "alfworld"
    assert get_template("auto", "empg/DeepSearch-v0").name == "search_r1"
    assert get_template("auto", "empg_gym:empg/DeepSearch-v1").name == "search_r1"
    assert get_template("auto", "empg/GuessNumber-v0").name == "react"
    assert get_template("webshop").name == "webshop"
    with pytest.raises(ValueError, match="unknown prompt template 'nope'"):
        get_template("nope")
    for t in TEMPLATES.values():
        assert t.stop
