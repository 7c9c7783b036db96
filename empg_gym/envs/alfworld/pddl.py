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
from collections.abc import Iterable, Mapping, Sequence
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


_DECL: dict[int, tuple[list, list[tuple[str, str]]]] = {}


def _decl(decl: list) -> list[tuple[str, str]]:
    """A quantifier's ``(?v - type ...)`` list as (variable, type) pairs (memoised per list object)."""
    hit = _DECL.get(id(decl))
    if hit is not None and hit[0] is decl:
        return hit[1]
    out = _typed_list([t.rstrip(",") for t in decl if t != ","])
    if len(_DECL) > 100_000:
        _DECL.clear()
    _DECL[id(decl)] = (decl, out)
    return out


def _vars(decl: list) -> list[str]:
    return [v for v, _ in _typed_list([t.rstrip(",") for t in decl if t != ","])]


class FactIndex:
    """Facts grouped by lower-cased predicate, for goal evaluation.

    Args:
        facts: predicate -> set of argument tuples.
        index: A cache of (predicate, position) -> value -> facts, shared between calls for static predicates
            (the caller keeps it and passes the same dict again).
        static: The predicates whose facts never change (only those go into the shared ``index``).
    """

    def __init__(self, facts: Mapping[str, set[tuple[str, ...]]], index: dict | None = None,
                 static: frozenset[str] = frozenset()) -> None:
        self.facts = facts
        self._shared = index if index is not None else {}
        self._local: dict = {}
        self._static = static

    def has(self, pred: str, args: tuple[str, ...]) -> bool:
        """Whether the fact holds."""
        return args in self.facts.get(pred, ())

    def _by(self, pred: str, pos: int) -> dict:
        store = self._shared if pred in self._static else self._local
        d = store.get((pred, pos))
        if d is None:
            d = {}
            for f in self.facts.get(pred, ()):
                if pos < len(f):
                    d.setdefault(f[pos], []).append(f)
            store[(pred, pos)] = d
        return d

    def lookup(self, pred: str, pattern: tuple[str | None, ...]) -> Iterable[tuple[str, ...]]:
        """Facts of ``pred`` that may match ``pattern`` (None = free position).

        With several bound positions this is a superset (the caller checks every position).
        """
        best: Any = None
        for pos, val in enumerate(pattern):
            if val is not None:
                lst = self._by(pred, pos).get(val, ())
                if best is None or len(lst) < len(best):
                    best = lst
        return best if best is not None else self.facts.get(pred, ())


_CONJ: dict[int, tuple[SExpr, list]] = {}


def _conjuncts(f: SExpr) -> list:
    """The flattened conjuncts of ``f`` (memoised per formula object; do not mutate the result)."""
    hit = _CONJ.get(id(f))
    if hit is not None and hit[0] is f:
        return hit[1]
    out = _conjuncts_uncached(f)
    if len(_CONJ) > 100_000:
        _CONJ.clear()
    _CONJ[id(f)] = (f, out)
    return out


def _conjuncts_uncached(f: SExpr) -> list:
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
        decl = _decl(f[1])
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
        if isinstance(g, list) and g and g[0] == "exists" and not any(v in env for v, _ in _decl(g[1])):
            decl = _decl(g[1])
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
    # 2. bind through the atom with the fewest matching facts
    best = None
    for i, g in enumerate(rest):
        if _is_atom(g):
            pred = g[0].lower()
            pattern = tuple(None if (x in unbound) else env.get(x, x) for x in g[1:])
            cands = kb.lookup(pred, pattern)
            if best is None or len(cands) < len(best[2]):
                best = (i, g, cands)
    if best is not None:
        i, g, cands = best
        others = rest[:i] + rest[i + 1 :]
        for fact in cands:
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


_VARS: dict[int, tuple[SExpr, frozenset[str]]] = {}


def _vars_in(f: SExpr) -> frozenset[str]:
    """The ``?variables`` occurring in ``f`` (memoised per formula object)."""
    if isinstance(f, str):
        return frozenset((f,)) if f.startswith("?") else frozenset()
    hit = _VARS.get(id(f))
    if hit is not None and hit[0] is f:
        return hit[1]
    out = frozenset().union(*(_vars_in(g) for g in f)) if f else frozenset()
    if len(_VARS) > 100_000:
        _VARS.clear()
    _VARS[id(f)] = (f, out)
    return out


def _free_in(f: SExpr, unbound: set[str]) -> bool:
    return not _vars_in(f).isdisjoint(unbound)


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
        ValueError: When it is not a tw-pddl game, or is damaged (binary, truncated JSON, a PDDL problem
            that does not parse): the message names the file.
    """
    path = os.fspath(path)
    try:
        return _load_game(path)
    except FileNotFoundError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not a readable game.tw-pddl (not UTF-8 JSON: {e}); re-download the "
                         "ALFWorld data or regenerate the game") from None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        if path in str(e):
            raise
        raise ValueError(f"{path}: damaged game.tw-pddl ({type(e).__name__}: {e}); re-download the ALFWorld "
                         "data or regenerate the game") from None


def _load_game(path: str) -> Game:
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
