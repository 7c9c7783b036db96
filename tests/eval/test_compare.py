"""Paired bootstrap differences and McNemar's exact test against hand-computed values."""

from __future__ import annotations

import pytest

from empg_gym.eval.compare import (
    ComparisonError,
    compare_entries,
    format_comparison,
    mcnemar_exact,
    paired_bootstrap,
)

from .helpers import guess_entry, reported_entry


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (1, 5, 2 * 7 / 64),  # P(X <= 1 | n=6) = (1 + 6) / 64
        (5, 1, 2 * 7 / 64),  # symmetric
        (0, 3, 2 / 8),  # P(X = 0 | n=3) = 1/8
        (0, 10, 2 / 1024),
        (3, 3, 1.0),  # 2 * 42/64 > 1 -> capped at 1
        (0, 0, 1.0),  # no discordant pairs
    ],
)
def test_mcnemar_exact(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_mcnemar_rejects_negative():
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_paired_bootstrap_constant_difference():
    a = [1.0, 0.5, 0.75, 0.25]
    res = paired_bootstrap(a, [x - 0.25 for x in a])
    assert res["diff"] == pytest.approx(0.25) and res["ci"] == [0.25, 0.25] and res["n"] == 4
    same = paired_bootstrap(a, a)
    assert same["diff"] == 0.0 and same["ci"] == [0.0, 0.0]


def test_paired_bootstrap_two_tasks():
    # differences 1 and 0: resampled means 0, .5, 1 -> 95% CI [0, 1]
    assert paired_bootstrap([1.0, 0.0], [0.0, 0.0])["ci"] == [0.0, 1.0]


def test_compare_entries_hand_computed():
    a_won = [True] * 10 + [False] * 6
    b_won = [True] * 4 + [False] * 10 + [True] * 2
    res = compare_entries(guess_entry("a", a_won), guess_entry("b", b_won))
    # discordant: tasks 4-9 A only (b=6); tasks 14-15 B only (c=2)
    assert res["mcnemar"] == {"b": 6, "c": 2, "p_value": pytest.approx(2 * (1 + 8 + 28) / 256)}
    s = res["metrics"]["success"]
    assert s["a"] == 10 / 16 and s["b"] == 6 / 16 and s["diff"] == pytest.approx(4 / 16)
    assert s["ci"][0] < 0.25 < s["ci"][1]
    assert res["pairs"] == 16 and res["tasks"] == 16
    assert "McNemar" in format_comparison(res)


def test_compare_pairs_by_seed_position():
    won = [True] * 16 + [False] * 16
    a = guess_entry("a", won, seeds=(0, 1))
    b = guess_entry("b", won, seeds=(5, 6))  # other seed values, same positions
    res = compare_entries(a, b)
    assert res["pairs"] == 32 and res["mcnemar"]["b"] == res["mcnemar"]["c"] == 0


def test_compare_refuses_unpaired():
    a = guess_entry("a", [True] * 16)
    b = guess_entry("b", [True] * 16)
    b["task_list"] = dict(b["task_list"], hash="ffffffffffffffff")
    with pytest.raises(ComparisonError, match="different task lists"):
        compare_entries(a, b)
    with pytest.raises(ComparisonError, match="no per-episode records"):
        compare_entries(a, reported_entry())
