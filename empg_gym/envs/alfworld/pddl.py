"""Read ALFWorld ``game.tw-pddl`` files: the PDDL problem (objects, initial facts, goal) and the goal text.

A ``game.tw-pddl`` is JSON with ``pddl_domain``, ``grammar``, ``pddl_problem``, ``solvable`` and (since
json 2.1.2) ``walkthrough``. Only the problem and the goal sentence in the grammar matter to the
simulator: the
domain is always alfworld 0.4.x's ``alfred.pddl``, whose actions :mod:`empg_gym.envs.alfworld.world`
implements
directly. Goals are kept as s-expressions and checked by :func:`holds`, a small backtracking evaluator for the
``and``/``or``/``not``/``exists``/``forall``/``=`` formulas ALFWorld's goals use.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Game",
    "Problem",
    "SExpr",
    "holds",
    "load_game",
    "parse_problem",
    "parse_sexpr",
    "task_type_of_path",
]

SExpr = str | list  # a symbol or a nested list of them

#: ALFWorld's six task types, in its numbering (``TASK_TYPES`` in alfworld).
TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_TASK_RULE = re.compile(r'"task":\s*\[\s*\{\s*"rhs":\s*"Your task is to: (.*?)\."\s*\}', re.S)


def parse_sexpr(text: str) -> list:
    """Parse PDDL text (``;`` comments allowed) into nested lists of symbols."""
    text = re.sub(r";[^\n]*", "", text)
    stack: list[list] = [[]]
    for tok in _TOKEN.findall(text):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise ValueError("unbalanced ')' in PDDL text")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise ValueError("unbalanced '(' in PDDL text")
    return stack[0]


@dataclass
class Problem:
    """A PDDL problem of the ALFRED domain.

    Attributes:
        name: The problem name (``plan_trial_...``).
        types: Object name -> PDDL type (``agent``, ``location``, ``receptacle``, ``object``, ``otype``,
        ``rtype``).
        init: The initial facts as tuples ``(predicate, arg, ...)``; predicates keep the file's spelling.
        goal: The goal formula (s-expression).
    """

    name: str
    types: dict[str, str]
    init: list[tuple[str, ...]]
    goal: SExpr


def _typed_list(items: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pending: list[str] = []
    it = iter(items)
    for tok in it:
        if tok == "-":
            typ = next(it)
            out.extend((p, typ) for p in pending)
            pending = []
        else:
            pending.append(tok)
    out.extend((p, "object") for p in pending)
    return out


def parse_problem(text: str) -> Problem:
    """Parse a PDDL problem of the ALFRED domain."""
    top = parse_sexpr(text)
    if not top or not isinstance(top[0], list) or top[0][:1] != ["define"]:
        raise ValueError("not a PDDL problem: expected (define (problem ...) ...)")
    name, types, init, goal = "", {}, [], ["and"]
    for part in top[0][1:]:
        if not isinstance(part, list) or not part:
            continue
        head = part[0].lower() if isinstance(part[0], str) else ""
        if head == "problem":
            name = part[1]
        elif head == ":objects":
            types = dict(_typed_list(part[1:]))
        elif head == ":init":
            init = [tuple(f) for f in part[1:] if isinstance(f, list) and all(isinstance(x, str) for x in f)]
        elif head == ":goal":
            goal = part[1]
    return Problem(name=name, types=types, init=init, goal=goal)


def _vars(decl: list) -> list[str]:
    return [v for v, _ in _typed_list([t.rstrip(",") for t in decl if t != ","])]


class FactIndex:
    """Facts grouped by lower-cased predicate, for goal evaluation."""

    def __init__(self, facts: Mapping[str, set[tuple[str, ...]]]) -> None:
        self.facts = facts

    def has(self, pred: str, args: tuple[str, ...]) -> bool:
        return args in self.facts.get(pred, ())

    def candidates(self, pred: str) -> Iterator[tuple[str, ...]]:
        return iter(self.facts.get(pred, ()))


def _conjuncts(f: SExpr) -> list:
    if isinstance(f, list) and f and f[0] == "and":
        out: list = []
        for g in f[1:]:
            out.extend(_conjuncts(g))
        return out
    return [f]


def _subst(f: SExpr, env: Mapping[str, str]) -> SExpr:
    if isinstance(f, str):
        return env.get(f, f)
    return [_subst(g, env) for g in f]


def _is_atom(f: SExpr) -> bool:
    return (
        isinstance(f, list)
        and bool(f)
        and isinstance(f[0], str)
        and f[0] not in ("and", "or", "not", "exists", "forall", "=", "imply", "when")
    )


def _free(f: SExpr, bound: Mapping[str, str]) -> bool:
    if isinstance(f, str):
        return f.startswith("?") and f not in bound
    return any(_free(g, bound) for g in f)


def holds(
    f: SExpr, kb: FactIndex, domain: Mapping[str, Sequence[str]], env: Mapping[str, str] | None = None
) -> bool:
    """Whether formula ``f`` holds in ``kb``.

    Args:
        f: The formula.
        kb: The current facts.
        domain: PDDL type -> the objects of that type (for quantified variables no atom can bind).
        env: Variable bindings so far.
    """
    env = dict(env or {})
    if isinstance(f, str):
        return f.lower() == "true"
    if not f:
        return True
    head = f[0]
    if head == "and":
        return _solve(_conjuncts(f), kb, domain, env)
    if head == "or":
        return any(holds(g, kb, domain, env) for g in f[1:])
    if head == "not":
        return not holds(f[1], kb, domain, env)
    if head == "=":
        a, b = (env.get(x, x) for x in f[1:3])
        return a == b
    if head in ("exists", "forall"):
        decl = _typed_list([t for t in f[1] if t != ","])
        body = f[2]
        if head == "exists":
            return _solve(_conjuncts(body), kb, domain, env, pending=decl)
        return _forall(decl, body, kb, domain, env)
    if head == "imply":
        return (not holds(f[1], kb, domain, env)) or holds(f[2], kb, domain, env)
    args = tuple(env.get(x, x) for x in f[1:])
    return kb.has(head.lower(), args)


def _forall(decl, body, kb, domain, env) -> bool:
    if not decl:
        return holds(body, kb, domain, env)
    (var, typ), rest = decl[0], decl[1:]
    return all(_forall(rest, body, kb, domain, {**env, var: o}) for o in domain.get(typ, ()))


def _solve(goals: list, kb: FactIndex, domain, env: dict[str, str], pending: list | None = None) -> bool:
    """Backtracking over conjuncts: bind variables from atoms' matching facts, check the rest when bound."""
    pending = list(pending or [])
    pvars = {v for v, _ in pending}
    # Flatten nested exists in the conjunction into the pending variables.
    flat: list = []
    for g in goals:
        if isinstance(g, list) and g and g[0] == "exists" and not any(t in env for t in _vars(g[1])):
            decl = _typed_list([t for t in g[1] if t != ","])
            pending.extend(decl)
            pvars |= {v for v, _ in decl}
            flat.extend(_conjuncts(g[2]))
        else:
            flat.append(g)
    return _search(flat, kb, domain, env, pending, pvars)


def _search(goals: list, kb, domain, env: dict[str, str], pending: list, pvars: set[str]) -> bool:
    unbound = {v for v in pvars if v not in env}
    # 1. check fully bound goals first (prunes early)
    rest: list = []
    for g in goals:
        if not _free_in(g, unbound):
            if not holds(g, kb, domain, env):
                return False
        else:
            rest.append(g)
    if not rest:
        return True
    # 2. bind through the first atom with a free variable
    for i, g in enumerate(rest):
        if _is_atom(g):
            pred = g[0].lower()
            others = rest[:i] + rest[i + 1 :]
            for fact in kb.candidates(pred):
                if len(fact) != len(g) - 1:
                    continue
                new = dict(env)
                ok = True
                for x, v in zip(g[1:], fact, strict=True):
                    x = new.get(x, x)
                    if x in unbound and x.startswith("?"):
                        new[x] = v
                    elif x != v:
                        ok = False
                        break
                if ok and _search(others, kb, domain, new, pending, pvars):
                    return True
            return False
    # 3. no atom can bind: enumerate a variable's type
    var = next(v for v, _ in pending if v in unbound)
    typ = dict(pending)[var]
    return any(_search(rest, kb, domain, {**env, var: o}, pending, pvars) for o in domain.get(typ, ()))


def _free_in(f: SExpr, unbound: set[str]) -> bool:
    if isinstance(f, str):
        return f in unbound
    return any(_free_in(g, unbound) for g in f)


@dataclass
class Game:
    """One ALFWorld game.

    Attributes:
        problem: The parsed PDDL problem.
        goal_text: The goal sentence without "Your task is to: " and the final period.
        task_type: One of :data:`TASK_TYPES`.
        walkthrough: The stored expert actions (may be empty).
        path: Where the game came from (a file path or a generated id).
        extra: Anything else (e.g. the generator's task parameters).
    """

    problem: Problem
    goal_text: str
    task_type: str
    walkthrough: list[str] = field(default_factory=list)
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def task_type_of_path(path: str) -> str:
    """The task type encoded in an ALFWorld game folder name (``<task_type>-<obj>-...``)."""
    for part in reversed(os.path.normpath(path).split(os.sep)):
        head = part.split("-")[0]
        if head in TASK_TYPES:
            return head
    return ""


def goal_text_of_grammar(grammar: str) -> str:
    """The goal sentence that ``alfworld-generate`` wrote into the grammar's ``task`` rule."""
    m = _TASK_RULE.search(grammar)
    return m.group(1) if m else "UNKNOWN GOAL"


def load_game(path: str | os.PathLike) -> Game:
    """Load a ``game.tw-pddl`` file.

    Raises:
        FileNotFoundError: When the file is missing.
        ValueError: When it is not a tw-pddl game.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if "pddl_problem" not in data:
        raise ValueError(f"{path} is not a game.tw-pddl file (no 'pddl_problem' key)")
    problem = parse_problem(data["pddl_problem"])
    ttype = task_type_of_path(path)
    return Game(
        problem=problem,
        goal_text=goal_text_of_grammar(data.get("grammar", "")),
        task_type=ttype,
        walkthrough=list(data.get("walkthrough") or []),
        path=path,
    )
