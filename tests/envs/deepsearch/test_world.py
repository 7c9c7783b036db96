"""The generated world: determinism, passages state only their own facts, question structure and answers."""

from __future__ import annotations

import collections

import pytest

from empg_gym.envs.deepsearch.world import RELATIONS, generate_world, make_questions


@pytest.fixture(scope="module")
def world_and_questions():
    w = generate_world(3, n_people=200)
    return w, make_questions(w, {"train": 300, "test": 100})


def test_same_seed_same_world():
    a, b = generate_world(7, 60), generate_world(7, 60)
    assert a.passages == b.passages
    assert generate_world(8, 60).passages != a.passages
    with pytest.raises(ValueError, match="n_people"):
        generate_world(0, 5)


def test_passages_hold_their_entity_facts_in_search_r1_format(world_and_questions):
    w, _ = world_and_questions
    assert [p["id"] for p in w.passages] == [str(i) for i in range(len(w.passages))]
    names = {e.name for e in w.entities}
    assert len(names) == len(w.entities)  # unique names
    for e, p in zip(w.entities, w.passages, strict=True):
        title, _, text = p["contents"].partition("\n")
        assert title == f'"{e.name}"'
        assert all(v in text for v in e.facts.values())
    # a person's passage names the birth city but not that city's country (one hop = one passage)
    person = next(e for e in w.entities if e.kind == "person")
    country = w.fact(person.facts["birthplace"], "country")
    assert country not in w.passages[int(person.id)]["contents"]


def test_questions(world_and_questions):
    w, splits = world_and_questions
    qs = splits["train"] + splits["test"]
    assert len({q.question for q in qs}) == len(qs)  # splits are disjoint, no duplicates
    assert collections.Counter(q.hops for q in splits["train"]) == {1: 75, 2: 75, 3: 75, 4: 75}
    assert {q.kind for q in qs} == {"bridge", "comparison"}
    for q in qs:
        assert len(q.supporting_doc_ids) == q.hops == len(set(q.supporting_doc_ids))
        assert q.question.endswith("?") and len(q.answers) == 1
        if q.kind == "bridge":
            ((start, rels),) = q.sides
            assert len(rels) == q.hops and w.walk(start, rels)[0] == q.answers[0]
            assert q.answers[0] not in q.question
        else:
            assert 2 <= q.hops <= 4 and len(q.sides) == 2
            ends = [w.walk(s, r)[0] for s, r in q.sides]
            if q.compare == "same":
                assert q.answers[0] == ("yes" if ends[0] == ends[1] else "no")
            else:
                assert ends[0] != ends[1]  # compared years differ, so the answer is unique
                names = [w.walk(s, r[:-1])[0] for s, r in q.sides]
                early = names[0] if int(ends[0]) < int(ends[1]) else names[1]
                late = names[1] if early == names[0] else names[0]
                assert q.answers[0] == (early if q.compare == "earlier" else late)
    assert all(r.domain in {"person", "city", "country", "company", "film"} for r in RELATIONS.values())


def test_hops_option():
    w = generate_world(0, 60)
    qs = make_questions(w, {"test": 20}, hops=[2])["test"]
    assert {q.hops for q in qs} == {2}
    with pytest.raises(ValueError, match="hops"):
        make_questions(w, {"test": 5}, hops=[0])
