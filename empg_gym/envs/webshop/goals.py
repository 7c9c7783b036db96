"""WebShop goals: synthetic (one per option combination) and human (one per annotation), with price caps.

Follows WebShop's ``engine/goal.py``:

- price cap: ``PRICE_RANGE = [10, 20, ..., 990]``; the multiples above the price, first four; when at least
  two exist the cap is the larger of ``random.sample(those, 2)`` and the instruction gains
  ``", and price lower than {cap:.2f} dollars"``; otherwise the cap is 1,000,000 with no text;
- synthetic goals: one cap per product, one goal per element of ``itertools.product`` over the sorted
  option names, ``instruction + " with " + ", and ".join("name: value") + price_text``; weight = mean
  of ``1 / count(attribute)`` over the goal's attributes;
- human goals: one per annotation with non-empty ``instruction_attributes``, its own cap,
  ``instruction.strip('.') + price_text``, options = ``instruction_options`` (a list), weight 1.

All draws come from the :class:`random.Random` passed in (seeded by the catalog), never the global RNG.
Splits (WebShop's baselines): test = goals 0-499, valid = 500-1499, train = 1500 onwards.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from typing import Any

PRICE_RANGE: tuple[float, ...] = tuple(10.0 * i for i in range(1, 100))

#: split -> (start, stop) goal indices (stop None = to the end).
SPLITS: dict[str, tuple[int, int | None]] = {
    "test": (0, 500),
    "valid": (500, 1500),
    "train": (1500, None),
    "all": (0, None),
}


def price_cap(price: float, rnd: random.Random) -> tuple[float, str]:
    """``(price_upper, price_text)`` for a product price, drawing from ``rnd`` as the original does.

    >>> price_cap(995.0, random.Random(0))
    (1000000, '')
    >>> cap, text = price_cap(12.5, random.Random(0)); cap in (30.0, 40.0, 50.0), text.startswith(", and")
    (True, True)
    """
    rng = [p for p in PRICE_RANGE if p > price][:4]
    if len(rng) >= 2:
        _, upper = sorted(rnd.sample(rng, 2))
        return upper, f", and price lower than {upper:.2f} dollars"
    return 1000000, ""


def _base(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "asin": p["asin"],
        "category": p.get("category", ""),
        "query": p["query"],
        "name": p.get("name", p["Title"]),
        "product_category": p.get("product_category", ""),
    }


def make_synthetic_goals(
    products: list[dict[str, Any]], prices: dict[str, float], rnd: random.Random
) -> list[dict]:
    """One goal per option combination of each product with a synthetic instruction."""
    goals: list[dict[str, Any]] = []
    counts: dict[str, int] = defaultdict(int)
    for p in products:
        text = p.get("instruction_text")
        if text is None:
            continue
        attributes = list(p["instruction_attributes"] or [])
        if not attributes:
            continue
        upper, price_text = price_cap(prices[p["asin"]], rnd)
        names = sorted(p["options"])
        for combo in itertools.product(*(p["options"][n] for n in names)):
            goal_options = dict(zip(names, combo, strict=True))
            option_text = ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            option_text = " with " + option_text if option_text else ""
            goals.append(
                {
                    **_base(p),
                    "instruction_text": f"{text}{option_text}{price_text}",
                    "attributes": attributes,
                    "price_upper": upper,
                    "goal_options": goal_options,
                }
            )
            for a in attributes:
                counts[a] += 1
    for g in goals:
        g["weight"] = sum(1.0 / counts[a] for a in g["attributes"]) / len(g["attributes"])
    return goals


def make_human_goals(
    products: list[dict[str, Any]], prices: dict[str, float], rnd: random.Random
) -> list[dict]:
    """One goal per human annotation with non-empty ``instruction_attributes``."""
    goals: list[dict[str, Any]] = []
    for p in products:
        for ann in p.get("instructions", ()):
            attributes = list(ann.get("instruction_attributes") or [])
            if not attributes:
                continue
            upper, price_text = price_cap(prices[p["asin"]], rnd)
            goals.append(
                {
                    **_base(p),
                    "instruction_text": ann["instruction"].strip(".") + price_text,
                    "attributes": attributes,
                    "price_upper": upper,
                    "goal_options": list(ann.get("instruction_options") or []),
                    "weight": 1,
                }
            )
    return goals


def build_goals(
    products: list[dict[str, Any]], prices: dict[str, float], rnd: random.Random, *, human_goals: bool
) -> list[dict[str, Any]]:
    """Human or synthetic goals, in product order (not shuffled)."""
    return (
        make_human_goals(products, prices, rnd)
        if human_goals
        else make_synthetic_goals(products, prices, rnd)
    )


def shuffle_goals(goals: list[dict[str, Any]], seed: int) -> None:
    """Shuffle in place with ``random.Random(seed)`` (the original: ``random.seed(233); random.shuffle``)."""
    random.Random(seed).shuffle(goals)


def split_range(split: str, n_goals: int) -> range:
    """Goal indices of a split."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    start, stop = SPLITS[split]
    stop = n_goals if stop is None else min(stop, n_goals)
    return range(min(start, n_goals), stop)
