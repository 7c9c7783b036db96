"""Search-R1 parsing and EM / FlashRAG F1 on hand-written cases (expected values computed by hand)."""

from __future__ import annotations

import pytest

from empg_gym.envs.deepsearch.protocol import (
    INVALID_MESSAGE,
    Action,
    cut_response,
    exact_match,
    f1_score,
    format_information,
    normalize_answer,
    parse_action,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<search> who wrote Hamlet </search>", Action("search", "who wrote Hamlet")),
        ("<think>I need facts</think>\n<search>Hamlet author</search>", Action("search", "Hamlet author")),
        ("<answer> William Shakespeare </answer>", Action("answer", "William Shakespeare")),
        # first tag wins
        ("<answer>A</answer> <answer>B</answer>", Action("answer", "A")),
        ("<search>q1</search><search>q2</search>", Action("search", "q1")),
        # the cut is after the first </search> even when an answer comes first; the answer block is first
        ("<answer>A</answer><search>q</search>", Action("answer", "A")),
        # text after the first closing tag is ignored (an answer after a search is never seen)
        ("<search>q</search> then <answer>A</answer>", Action("search", "q")),
        # multi-line content (DOTALL), stripped
        ("<answer>\n  New\nYork \n</answer>", Action("answer", "New\nYork")),
        ("<search></search>", Action("search", "")),
    ],
)
def test_parse_action(text, expected):
    assert parse_action(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Paris",
        "<search>unclosed",
        "<answer>x</search>",
        "<SEARCH>q</SEARCH>",
        "<search>q</answer>",
        "search[q]",
        "<action>q</action>",
        "</search><search>q",
        # the cut after the first </search> drops the only complete answer block
        "<search>a</search><answer>b</answer>".replace("<search>a", "<search a"),
    ],
)
def test_invalid_responses(text):
    assert parse_action(text) is None


def test_cut_and_message():
    assert cut_response("a </answer> b </search> c") == "a </answer> b </search>"
    assert cut_response("x </answer> y") == "x </answer>"
    assert INVALID_MESSAGE.startswith("My previous action is invalid.") and INVALID_MESSAGE.endswith(
        "Let me try again."
    )


@pytest.mark.parametrize(
    ("s", "norm"),
    [
        ("The Beatles", "beatles"),
        ("  A   tale of THE two cities. ", "tale of two cities"),
        ("U.S.A.", "usa"),
        ("rock-and-roll!", "rockandroll"),
        ("Anthem", "anthem"),  # 'an' only as a whole word
        ("the", ""),
        ("Théâtre", "théâtre"),  # no accent folding in Search-R1
    ],
)
def test_normalize_answer(s, norm):
    assert normalize_answer(s) == norm


def test_exact_match():
    assert exact_match("the Beatles", "Beatles") == 1.0
    assert exact_match("Beatles.", ["Rolling Stones", "The Beatles"]) == 1.0  # any gold
    assert exact_match("Beatles band", ["Beatles"]) == 0.0
    assert exact_match("Yes", ["yes"]) == 1.0
    assert exact_match("", ["a"]) == 1.0  # both normalise to ""
    assert exact_match("x", []) == 0.0


def test_f1_hand_computed():
    # pred tokens [paris, france], gold [paris]: p=1/2, r=1 -> 2/3
    assert f1_score("Paris, France", "Paris") == pytest.approx(2 / 3)
    # pred [new, york, city], gold [new, york]: p=2/3 r=1 -> 0.8; other gold [nyc] 0 -> max 0.8
    assert f1_score("New York City", ["NYC", "New York"]) == pytest.approx(0.8)
    # articles and punctuation vanish: "the cat sat" vs "a cat, sat!" -> identical
    assert f1_score("the cat sat", "a cat, sat!") == 1.0
    # repeated tokens: pred [a1, a1, b] vs gold [a1, b, b]: overlap min counts = 1 + 1 = 2 -> p=r=2/3
    assert f1_score("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1_score("completely different", "nothing shared") == 0.0


def test_f1_yes_no_rules():
    assert f1_score("yes", "no") == 0.0
    assert f1_score("yes", "yes") == 1.0
    assert f1_score("yes it is", "yes") == 0.0  # gold is yes and the prediction differs
    assert f1_score("no", "no way") == 0.0  # prediction is no and differs
    assert f1_score("noanswer", "no answer") == 0.0
    assert f1_score("no", ["no way", "no"]) == 1.0  # the second gold matches


def test_format_information():
    docs = ['"Evan Morris"\nEvan Morris was a lobbyist.\nHe died in 2015.', '"X"\n']
    assert format_information(docs) == (
        '<information>Doc 1(Title: "Evan Morris") Evan Morris was a lobbyist.\nHe died in 2015.\n'
        'Doc 2(Title: "X")</information>'
    )
    assert format_information([]) == "<information></information>"
