"""The oracle for generated worlds: follows a question's hop chain by searching.

It knows the *structure* of the question (the start entity of each chain and the relations to follow, as a
person reading the question would) but not the answer: at each hop it needs the passage of the current
entity among what the searches returned so far (parsed from the ``<information>`` blocks it was shown);
when that passage has not come back yet it searches for the entity's name. It reads the fact from the
passage and moves on; when every chain is resolved it answers. So its success rate measures that the
questions are answerable with the retriever and the turn limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from empg_gym.envs.deepsearch.world import RELATIONS, Question, World

_DOC = re.compile(r'Doc \d+\(Title: "(.*?)"\) (.*)')


def passages_seen(observations: Iterable[str]) -> dict[str, str]:
    """Title -> text of every passage shown in Search-R1 ``Doc i(Title: ...)`` lines."""
    seen: dict[str, str] = {}
    for obs in observations:
        for line in obs.splitlines():
            m = _DOC.search(line)
            if m:
                seen.setdefault(m.group(1), m.group(2))
    return seen


def oracle_action(world: World, question: Question, observations: Iterable[str]) -> str:
    """The oracle's next action given everything it was shown so far."""
    seen = passages_seen(observations)
    ends: list[str] = []
    for start, rels in question.sides:
        cur = start
        for r in rels:
            text = seen.get(cur)
            value = world.fact(cur, r)
            if text is None or value not in text:
                words = RELATIONS[r].query
                return f"<search> {cur}{' ' + words if words else ''} </search>"
            cur = value
        ends.append(cur)
    if question.kind == "bridge":
        return f"<answer> {ends[0]} </answer>"
    if question.compare == "same":
        return "<answer> yes </answer>" if ends[0] == ends[1] else "<answer> no </answer>"
    # ends are the compared years; the answer names the entity each chain reached before the year
    names = [world.walk(s, r[:-1])[0] for s, r in question.sides]
    years = [int(y) for y in ends]
    first = 0 if years[0] < years[1] else 1
    pick = first if question.compare == "earlier" else 1 - first
    return f"<answer> {names[pick]} </answer>"
