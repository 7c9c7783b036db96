r"""A generated multi-hop world: fictional entities, encyclopedia passages and 1-4 hop questions.

Everything comes from one seed with our own code, so it runs on a fresh machine and no model can know the
answers: names are made of random syllables, facts are drawn at random.

Entities (one passage each, in Search-R1's corpus format ``"Title"\ntext``):

- country: continent, currency, capital (a city);
- city: country, founding year, river;
- person: birth city, birth year, occupation, employer (a company);
- company: founder (a person), headquarters (a city), founding year, industry;
- film: director (a person), release year, genre.

A passage states only its entity's own facts (a person's passage names the birth city, not its country),
so a fact two relations away needs two passages: one hop = one passage to read.

Questions (like HotpotQA / 2WikiMultihopQA / MuSiQue):

- *bridge*, 1-4 hops: a chain of relations from a named entity, e.g. "In which country was the founder of
  Quorvex Labs born?" (company -> founder -> birth city -> country: 3 hops);
- *comparison*, 2-4 hops: two chains (one or two relations each) ending in a year ("Who was born earlier,
  X or the director of Y?") or in the same attribute ("Is the occupation of X the same as the occupation of
  Y?", yes/no).

Every answer is unique by construction (relations are functions; compared years differ). Splits (train /
valid / test) share the world and hold disjoint questions.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["Entity", "Question", "Relation", "World", "generate_world", "make_questions"]

_ONSETS = ("b br c ch d dr f g gr h j k kr l m n p pr qu r s sh st t th tr v w z").split()
_VOWELS = ("a e i o u ai ea io ou").split()
_CODAS = ("", "", "n", "r", "l", "s", "th", "k", "m", "x", "nd", "rt")

CONTINENTS = ("Aurelia", "Borealis", "Meridia", "Ostrava", "Zephyria", "Calderon")
OCCUPATIONS = (
    "painter",
    "architect",
    "chemist",
    "novelist",
    "violinist",
    "sculptor",
    "botanist",
    "engineer",
    "cartographer",
    "astronomer",
    "economist",
    "poet",
    "surgeon",
    "historian",
    "photographer",
    "linguist",
    "geologist",
    "composer",
    "diplomat",
    "mathematician",
)
INDUSTRIES = (
    "shipbuilding",
    "textile",
    "software",
    "mining",
    "publishing",
    "aerospace",
    "brewing",
    "pharmaceutical",
    "railway",
    "insurance",
    "glassmaking",
    "telecommunications",
)
GENRES = ("drama", "comedy", "thriller", "documentary", "western", "musical", "science fiction", "mystery")
COMPANY_SUFFIX = ("Industries", "Labs", "Group", "Works", "Systems", "Holdings", "Company", "Foundry")
FILM_PATTERNS = (
    "The {} Affair",
    "Return to {}",
    "The Last of {}",
    "{} Nights",
    "Shadows over {}",
    "The {} Letters",
    "A Winter in {}",
    "{} Rising",
)


@dataclass(frozen=True, slots=True)
class Relation:
    """A fact type.

    Attributes:
        name: e.g. ``"birthplace"``.
        domain: Entity type it applies to.
        range: Entity type of the value, or ``"literal"`` / ``"year"``.
        phrase: Noun phrase template for a bridge, with ``{}`` for the inner phrase ("the founder of {}").
        question: Question template asking for the value of ``{}``.
        noun: Short noun for comparisons ("occupation").
        query: A word that helps a search for this fact (the oracle adds it to the entity name).
    """

    name: str
    domain: str
    range: str
    phrase: str
    question: str
    noun: str
    query: str = ""


RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        Relation(
            "birthplace",
            "person",
            "city",
            "the city where {} was born",
            "In which city was {} born?",
            "birthplace",
            "born",
        ),
        Relation(
            "employer",
            "person",
            "company",
            "the employer of {}",
            "Which company employs {}?",
            "employer",
            "works",
        ),
        Relation("birth_year", "person", "year", "", "In what year was {} born?", "birth year", "born"),
        Relation("occupation", "person", "literal", "", "What is the occupation of {}?", "occupation", ""),
        Relation(
            "country", "city", "country", "the country of {}", "In which country is {}?", "country", "city"
        ),
        Relation(
            "city_founded", "city", "year", "", "In what year was {} founded?", "founding year", "founded"
        ),
        Relation("river", "city", "literal", "", "On which river does {} lie?", "river", "river"),
        Relation(
            "capital",
            "country",
            "city",
            "the capital of {}",
            "What is the capital of {}?",
            "capital",
            "capital",
        ),
        Relation(
            "continent", "country", "literal", "", "On which continent is {}?", "continent", "continent"
        ),
        Relation("currency", "country", "literal", "", "What is the currency of {}?", "currency", "currency"),
        Relation(
            "founder", "company", "person", "the founder of {}", "Who founded {}?", "founder", "founded"
        ),
        Relation(
            "headquarters",
            "company",
            "city",
            "the headquarters city of {}",
            "In which city is {} based?",
            "headquarters",
            "headquartered",
        ),
        Relation(
            "company_founded",
            "company",
            "year",
            "",
            "In what year was {} founded?",
            "founding year",
            "founded",
        ),
        Relation("industry", "company", "literal", "", "In which industry does {} operate?", "industry", ""),
        Relation(
            "director", "film", "person", "the director of {}", "Who directed {}?", "director", "directed"
        ),
        Relation(
            "release_year", "film", "year", "", "In what year was {} released?", "release year", "released"
        ),
        Relation("genre", "film", "literal", "", "What is the genre of {}?", "genre", ""),
    )
}

#: Pairs (r1, r2) whose composition returns to the start (capital's country is the country itself).
_INVERSE = {("capital", "country"), ("country", "capital")}

_YEAR_COMPARE = {
    "birth_year": ("Who was born earlier, {} or {}?", "Who was born later, {} or {}?"),
    "company_founded": (
        "Which company was founded earlier, {} or {}?",
        "Which company was founded later, {} or {}?",
    ),
    "release_year": (
        "Which film was released earlier, {} or {}?",
        "Which film was released later, {} or {}?",
    ),
    "city_founded": ("Which city was founded earlier, {} or {}?", "Which city was founded later, {} or {}?"),
}
_SAME = ("occupation", "industry", "genre", "continent", "country", "birthplace", "headquarters")


@dataclass
class Entity:
    """A world entity.

    Attributes:
        id: Passage id in the corpus (a string of its index).
        kind: ``country`` / ``city`` / ``person`` / ``company`` / ``film``.
        name: Unique name (the passage title).
        facts: relation name -> value (an entity name, a year, or a literal).
    """

    id: str
    kind: str
    name: str
    facts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    """A generated question.

    Attributes:
        id: Stable id (``<split>-<n>``).
        question: The question text.
        answers: Gold answers (one; a list as in FlashRAG).
        hops: Passages that must be read.
        kind: ``"bridge"`` or ``"comparison"``.
        sides: One (bridge) or two (comparison) chains ``(start entity name, relation names)``.
        compare: For comparisons: ``"earlier"`` / ``"later"`` / ``"same"``; "" for bridges.
        supporting_doc_ids: Ids of the passages that must be read.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    hops: int
    kind: str
    sides: tuple[tuple[str, tuple[str, ...]], ...]
    compare: str = ""
    supporting_doc_ids: tuple[str, ...] = ()


class World:
    """The entities of a generated world and their passages."""

    def __init__(self, entities: list[Entity], seed: int) -> None:
        self.entities = entities
        self.seed = seed
        self.by_name = {e.name: e for e in entities}
        self.by_kind: dict[str, list[Entity]] = {}
        for e in entities:
            self.by_kind.setdefault(e.kind, []).append(e)

    def fact(self, name: str, relation: str) -> str:
        """The value of ``relation`` for the entity called ``name``."""
        return self.by_name[name].facts[relation]

    def walk(self, start: str, relations: Sequence[str]) -> tuple[str, list[str]]:
        """Follow ``relations`` from ``start``: (final value, entities whose passages are read)."""
        cur, read = start, []
        for r in relations:
            read.append(cur)
            cur = self.fact(cur, r)
        return cur, read

    @cached_property
    def passages(self) -> list[dict[str, str]]:
        """The corpus rows ``{"id", "contents"}`` (Search-R1 format), one per entity, in id order."""
        return [{"id": e.id, "contents": f'"{e.name}"\n{passage_text(e, self.seed)}'} for e in self.entities]


_FILLER = {
    "country": (
        "The country is known for its mountain passes.",
        "Its economy rests on trade.",
        "It has a long coastline.",
    ),
    "city": ("The old town is known for its bridges.", "It hosts a yearly market.", "Its harbour is busy."),
    "person": ("{} is known for early work.", "{} has received several awards.", "{} lives abroad."),
    "film": ("It was shot on location.", "It premiered at a festival.", "It received mixed reviews."),
}


def passage_text(e: Entity, seed: int) -> str:
    """The encyclopedia-style text of an entity (its own facts only)."""
    f = e.facts
    r = random.Random(f"{seed}:{e.id}")
    if e.kind == "country":
        return (
            f"{e.name} is a sovereign country on the continent of {f['continent']}. Its capital and largest "
            f"city is {f['capital']}, and its official currency is the {f['currency']}. "
            f"{r.choice(_FILLER['country'])}"
        )
    if e.kind == "city":
        return (
            f"{e.name} is a city in {f['country']}. It was founded in {f['city_founded']} on the banks of "
            f"the {f['river']} river. "
            f"{r.choice(_FILLER['city'])}"
        )
    if e.kind == "person":
        pron = r.choice(["She", "He"])
        art = "an" if f["occupation"][0] in "aeiou" else "a"
        return (
            f"{e.name} (born {f['birth_year']}) is {art} {f['occupation']} born in {f['birthplace']}. "
            f"{pron} works for {f['employer']}. "
            f"{r.choice(_FILLER['person']).format(pron)}"
        )
    if e.kind == "company":
        art = "an" if f["industry"][0] in "aeiou" else "a"
        return (
            f"{e.name} is {art} {f['industry']} company founded in {f['company_founded']} by {f['founder']}. "
            f"It is headquartered in {f['headquarters']}."
        )
    return (
        f"{e.name} is a {f['release_year']} {f['genre']} film directed by {f['director']}. "
        f"{r.choice(_FILLER['film'])}"
    )


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def word(self, syllables: int | None = None) -> str:
        n = syllables or self.rng.choice((2, 2, 3))
        w = "".join(self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) for _ in range(n))
        return (w + self.rng.choice(_CODAS)).capitalize()

    def unique(self, make) -> str:
        for _ in range(1000):
            name = make()
            if name.lower() not in self.used:
                self.used.add(name.lower())
                return name
        raise RuntimeError("could not draw a unique name")


def generate_world(seed: int = 0, n_people: int = 400) -> World:
    """Generate a world with about ``1.65 * n_people`` passages.

    Args:
        seed: Everything follows from it.
        n_people: Number of people; cities, companies and films scale with it.

    Returns:
        The world.
    """
    if n_people < 20:
        raise ValueError(f"n_people must be >= 20, got {n_people}")
    rng = random.Random(seed)
    names = _Names(rng)
    n_countries = max(8, n_people // 60)
    n_cities = max(16, n_people // 6)
    n_companies = max(10, n_people // 4)
    n_films = max(10, n_people // 4)
    countries = [
        Entity("", "country", names.unique(lambda: names.word(2) + rng.choice(["ia", "land", "a", "or"])))
        for _ in range(n_countries)
    ]
    cities = [Entity("", "city", names.unique(lambda: names.word())) for _ in range(n_cities)]
    people = [
        Entity("", "person", names.unique(lambda: f"{names.word(2)} {names.word()}")) for _ in range(n_people)
    ]
    companies = [
        Entity("", "company", names.unique(lambda: f"{names.word()} {rng.choice(COMPANY_SUFFIX)}"))
        for _ in range(n_companies)
    ]
    films = [
        Entity("", "film", names.unique(lambda: rng.choice(FILM_PATTERNS).format(names.word())))
        for _ in range(n_films)
    ]
    rivers = [names.unique(lambda: names.word(2)) for _ in range(max(6, n_cities // 3))]
    for i, c in enumerate(cities):
        c.facts = {
            "country": countries[i % n_countries].name,
            "city_founded": str(rng.randint(800, 1900)),
            "river": rng.choice(rivers),
        }
    for c in countries:
        own = [x for x in cities if x.facts["country"] == c.name]
        c.facts = {
            "continent": rng.choice(CONTINENTS),
            "capital": rng.choice(own).name,
            "currency": names.unique(lambda: names.word(2).lower() + rng.choice(["", "o", "a"])).capitalize(),
        }
    for p in people:
        p.facts = {
            "birthplace": rng.choice(cities).name,
            "birth_year": str(rng.randint(1900, 2000)),
            "occupation": rng.choice(OCCUPATIONS),
            "employer": rng.choice(companies).name,
        }
    for c in companies:
        c.facts = {
            "founder": rng.choice(people).name,
            "headquarters": rng.choice(cities).name,
            "company_founded": str(rng.randint(1850, 2020)),
            "industry": rng.choice(INDUSTRIES),
        }
    for f in films:
        f.facts = {
            "director": rng.choice(people).name,
            "release_year": str(rng.randint(1930, 2024)),
            "genre": rng.choice(GENRES),
        }
    entities = countries + cities + people + companies + films
    order = list(range(len(entities)))
    rng.shuffle(order)
    entities = [entities[i] for i in order]
    for i, e in enumerate(entities):
        e.id = str(i)
    return World(entities, seed)


def _named(world: World, name: str) -> str:
    kind = world.by_name[name].kind
    return f"the film {name}" if kind == "film" else name


def _phrase(world: World, start: str, bridges: Sequence[str]) -> str:
    np_ = _named(world, start)
    for r in bridges:
        np_ = RELATIONS[r].phrase.format(np_)
    return np_


def _chain(
    world: World,
    rng: random.Random,
    n_bridges: int,
    start_kinds: Sequence[str] | None = None,
    end_kind: str | None = None,
) -> tuple[str, list[str]] | None:
    """A start entity and ``n_bridges`` entity-valued relations with distinct entities along the way."""
    kinds = list(start_kinds or world.by_kind)
    start = rng.choice(world.by_kind[rng.choice(kinds)])
    cur, seen = start, {start.name}
    rels: list[str] = []
    for _ in range(n_bridges):
        options = [
            r
            for r in RELATIONS.values()
            if r.domain == cur.kind
            and r.range in world.by_kind
            and not (rels and (rels[-1], r.name) in _INVERSE)
        ]
        if not options:
            return None
        r = rng.choice(options)
        nxt = world.by_name[cur.facts[r.name]]
        if nxt.name in seen:
            return None
        seen.add(nxt.name)
        rels.append(r.name)
        cur = nxt
    if end_kind is not None and cur.kind != end_kind:
        return None
    return start.name, rels


def _bridge(world: World, rng: random.Random, hops: int) -> Question | None:
    got = _chain(world, rng, hops - 1)
    if got is None:
        return None
    start, rels = got
    end_kind = world.by_name[world.walk(start, rels)[0]].kind if rels else world.by_name[start].kind
    final = rng.choice(
        [
            r
            for r in RELATIONS.values()
            if r.domain == end_kind and not (rels and (rels[-1], r.name) in _INVERSE)
        ]
    )
    answer, read = world.walk(start, [*rels, final.name])
    if answer in (start, *read):
        return None
    text = final.question.format(_phrase(world, start, rels))
    return Question(
        "",
        text[0].upper() + text[1:],
        (answer,),
        hops,
        "bridge",
        ((start, (*rels, final.name)),),
        supporting_doc_ids=tuple(world.by_name[n].id for n in read),
    )


def _comparison(world: World, rng: random.Random, hops: int) -> Question | None:
    extra = hops - 2  # bridge relations before the compared fact, at most one per side
    n_a, n_b = rng.choice([(0, 1), (1, 0)]) if extra == 1 else (extra // 2, extra // 2)
    if rng.random() < 0.6:  # year comparison
        rel = rng.choice(list(_YEAR_COMPARE))
        kind = RELATIONS[rel].domain
        sides = []
        for nb in (n_a, n_b):
            got = _chain(world, rng, nb, end_kind=kind)
            if got is None:
                return None
            sides.append(got)
        ends = [world.walk(s, r)[0] for s, r in sides]
        years = [int(world.fact(e, rel)) for e in ends]
        if ends[0] == ends[1] or years[0] == years[1]:
            return None
        which = rng.choice(["earlier", "later"])
        tpl = _YEAR_COMPARE[rel][which == "later"]
        pick = 0 if (years[0] < years[1]) == (which == "earlier") else 1
        answer = ends[pick]
        text = tpl.format(*(_phrase(world, s, r) for s, r in sides))
        compare = which
    else:  # same attribute: yes/no
        rel = rng.choice(_SAME)
        kind = RELATIONS[rel].domain
        want_same = rng.random() < 0.5  # yes and no equally likely
        got_a = _chain(world, rng, n_a, end_kind=kind)
        if got_a is None:
            return None
        end_a = world.walk(*got_a)[0]
        for _ in range(300):
            got_b = _chain(world, rng, n_b, end_kind=kind)
            if got_b is None:
                continue
            end_b = world.walk(*got_b)[0]
            if end_b != end_a and (world.fact(end_b, rel) == world.fact(end_a, rel)) == want_same:
                break
        else:
            return None
        sides = [got_a, got_b]
        same = want_same
        answer = "yes" if same else "no"
        pa, pb = (_phrase(world, s, r) for s, r in sides)
        text = f"Is the {RELATIONS[rel].noun} of {pa} the same as the {RELATIONS[rel].noun} of {pb}?"
        compare = "same"
    if any(r and (r[-1], rel) in _INVERSE for _, r in sides):
        return None
    full = tuple((s, (*r, rel)) for s, r in sides)
    read = [n for s, r in full for n in world.walk(s, r)[1]]
    if len(set(read)) != hops:
        return None
    text = text[0].upper() + text[1:]
    return Question(
        "", text, (answer,), hops, "comparison", full, compare, tuple(world.by_name[n].id for n in read)
    )


def make_questions(
    world: World, sizes: dict[str, int], hops: Sequence[int] = (1, 2, 3, 4), comparison_share: float = 0.3
) -> dict[str, list[Question]]:
    """Disjoint question splits over ``world``, hops spread evenly over ``hops``.

    Args:
        world: The world.
        sizes: split name -> number of questions, e.g. ``{"train": 2000, "valid": 200, "test": 200}``.
        hops: Hop counts to draw from (1-4); comparisons need 2 or more.
        comparison_share: Share of comparison questions among those with 2+ hops.

    Returns:
        split -> questions (ids ``<split>-<n>``), in a fixed order.
    """
    if not hops or any(h not in (1, 2, 3, 4) for h in hops):
        raise ValueError(f"hops must be a non-empty subset of 1..4, got {hops}")
    rng = random.Random(f"questions:{world.seed}")
    seen: set[str] = set()
    out: dict[str, list[Question]] = {}
    for split, n in sizes.items():
        qs: list[Question] = []
        tries = 0
        while len(qs) < n:
            h = hops[len(qs) % len(hops)]
            comparison = h >= 2 and rng.random() < comparison_share
            q = None
            while q is None or q.question in seen:
                tries += 1
                if tries > 500 * n + 1000:
                    raise RuntimeError(
                        f"could not generate {n} distinct questions for {split!r}; use a larger world"
                    )
                q = _comparison(world, rng, h) if comparison else _bridge(world, rng, h)
            seen.add(q.question)
            qs.append(
                Question(
                    f"{split}-{len(qs)}",
                    q.question,
                    q.answers,
                    q.hops,
                    q.kind,
                    q.sides,
                    q.compare,
                    q.supporting_doc_ids,
                )
            )
        out[split] = qs
    return out


def world_fingerprint(world: World) -> str:
    """A short hash of the world's passages."""
    h = hashlib.sha256()
    for p in world.passages:
        h.update(p["contents"].encode())
    return h.hexdigest()[:12]
