"""The ALFRED household world: state, valid commands and alfworld 0.4.x text, in pure Python.

:class:`World` plays one :class:`~empg_gym.envs.alfworld.pddl.Game` the way alfworld's TextWorld engine
does with
``alfred.pddl`` and ``alfred.twl2`` (0.4.x) behind the ``AlfredDemangler`` wrapper:

- a command must equal one of the currently valid commands (after ``strip()``); anything else gives
  ``Nothing happens.`` and changes nothing;
- the valid commands are the groundings of the domain's actions (``look``, ``inventory``, ``help``,
  ``go to R``, ``open R``, ``close R``, ``take O from R``, ``move O to R``, ``examine R|O``, ``use O``,
  ``heat|cool|clean O with R``, ``slice O with K``), listed ``sorted(set(...))``;
- the feedback strings are the grammar's, with every entity's indefinite article ``a``;
- objects are named ``"{class} {k}"`` like alfworld's ``Demangler``: per class, over the sorted lower-cased
  PDDL ids, numbered from the class's count down to 1 (it pops numbers off the end of ``[1..count]``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from empg_gym.envs.alfworld.pddl import FactIndex, Game, holds

__all__ = ["HELP_TEXT", "NOTHING_HAPPENS", "World", "demangle_names", "join_list"]

NOTHING_HAPPENS = "Nothing happens."

HELP_TEXT = (
    "Available commands:\n"
    "  look:                             look around your current location\n"
    "  inventory:                        check your current inventory\n"
    "  go to (receptacle):               move to a receptacle\n"
    "  open (receptacle):                open a receptacle\n"
    "  close (receptacle):               close a receptacle\n"
    "  take (object) from (receptacle):  take an object from a receptacle\n"
    "  move (object) to (receptacle):  place an object in or on a receptacle\n"
    "  examine (something):              examine a receptacle or an object\n"
    "  use (object):                     use an object\n"
    "  heat (object) with (receptacle):  heat an object using a receptacle\n"
    "  clean (object) with (receptacle): clean an object using a receptacle\n"
    "  cool (object) with (receptacle):  cool an object using a receptacle\n"
    "  slice (object) with (object):     slice an object using a sharp object\n"
)

INTRO_HEADER = "-= Welcome to TextWorld, ALFRED! =-"


def class_of(pddl_id: str) -> str:
    """The demangled class of a PDDL id.

    ``Mug_bar__plus_00_dot_32...`` -> ``mug``; ``Sink_bar_..._bar_SinkBasin`` -> ``sinkbasin``.
    """
    low = pddl_id.lower()
    name = low.split("_bar_", 1)[0]
    return name + "basin" if "basin" in low else name


def demangle_names(ids: Iterable[str]) -> dict[str, str]:
    """Name PDDL ids like alfworld's ``Demangler``: ``"{class} {k}"`` (see the module docstring).

    The ids are lower-cased (the PDDL engine lower-cases names) and sorted; within a class of ``c`` ids the
    first in that order gets ``k = c``, the last ``k = 1``.
    """
    keyed = sorted((i.lower(), i) for i in ids if "_bar_" in i)
    counts: dict[str, int] = defaultdict(int)
    for low, _ in keyed:
        counts[class_of(low)] += 1
    out: dict[str, str] = {}
    for low, orig in keyed:
        cls = class_of(low)
        out[orig] = f"{cls} {counts[cls]}"
        counts[cls] -= 1
    return out


def join_list(items: list[str]) -> str:
    """TextWorld's list rendering: ``nothing`` / ``x`` / ``x, and y`` / ``x, y, and z``."""
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


class World:
    """One game's mutable state and its text engine.

    Args:
        game: The game to play.
    """

    def __init__(self, game: Game) -> None:
        self.game = game
        p = game.problem
        self.agent = next((n for n, t in p.types.items() if t == "agent"), "agent1")
        receps = [n for n, t in p.types.items() if t == "receptacle"]
        self._domain: dict[str, list[str]] = defaultdict(list)
        for n, t in p.types.items():
            self._domain[t].append(n)
        # static facts
        self.rtype: dict[str, str] = {}
        self.otype: dict[str, str] = {}
        self.recep_loc: dict[str, str] = {}
        self.can_contain: set[tuple[str, str]] = set()
        static: dict[str, set[str]] = defaultdict(set)
        init_in: set[tuple[str, str]] = set()
        init_at: set[tuple[str, str]] = set()
        init_in_obj: set[tuple[str, str]] = set()
        self._init_flags: dict[str, set[str]] = defaultdict(set)
        start = None
        for f in p.init:
            pred = f[0].lower()
            if pred == "receptacletype":
                self.rtype[f[1]] = f[2]
            elif pred == "objecttype":
                self.otype[f[1]] = f[2]
            elif pred == "receptacleatlocation":
                self.recep_loc[f[1]] = f[2]
            elif pred == "cancontain":
                self.can_contain.add((f[1], f[2]))
            elif pred == "atlocation":
                start = f[2]
            elif pred == "inreceptacle":
                init_in.add((f[1], f[2]))
            elif pred == "objectatlocation":
                init_at.add((f[1], f[2]))
            elif pred == "inreceptacleobject":
                init_in_obj.add((f[1], f[2]))
            elif pred in ("opened", "isclean", "ishot", "iscool", "istoggled", "ison", "issliced", "holds"):
                self._init_flags[pred].add(f[-1])
            elif len(f) == 2:
                static[pred].add(f[1])
        self.static = static
        self._static_cache: dict[str, set[tuple[str, ...]]] | None = None
        self._static_index: dict = {}
        self.start = start or ""
        self._init_in, self._init_at, self._init_in_obj = init_in, init_at, init_in_obj
        self.names = demangle_names(e for e, t in p.types.items() if t in ("object", "receptacle"))
        self.receps = sorted(receps, key=str.lower)  # TextWorld lists entities by (lower-cased) id
        self.loc_receps: dict[str, list[str]] = defaultdict(list)
        for r in self.receps:
            if r in self.recep_loc:
                self.loc_receps[self.recep_loc[r]].append(r)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Back to the initial state."""
        self.loc = self.start
        self.in_recep: set[tuple[str, str]] = set(self._init_in)
        self.obj_at: set[tuple[str, str]] = set(self._init_at)
        self.in_obj: set[tuple[str, str]] = set(self._init_in_obj)
        self.held: list[str] = sorted(self._init_flags["holds"])
        self.opened: set[str] = set(self._init_flags["opened"])
        self.clean: set[str] = set(self._init_flags["isclean"])
        self.hot: set[str] = set(self._init_flags["ishot"])
        self.cool: set[str] = set(self._init_flags["iscool"])
        self.toggled: set[str] = set(self._init_flags["istoggled"])
        self.on: set[str] = set(self._init_flags["ison"])
        self.sliced: set[str] = set(self._init_flags["issliced"])
        #: TextWorld's ``not_inreceptacle(o, r)`` facts: taking ``o`` from ``r`` adds one, moving ``o`` into
        #: ``r`` removes it (no such fact exists in an initial state).
        self.not_in: dict[tuple[str, str], None] = {}
        self._cmds: dict[str, tuple] | None = None
        self._won: bool | None = None
        self._index_contents()

    def _index_contents(self) -> None:
        self.contents: dict[str, list[str]] = defaultdict(list)
        self.where: dict[str, list[str]] = defaultdict(list)
        for o, r in sorted(self.in_recep):  # sorted: the same order in every process
            self.contents[r].append(o)
            self.where[o].append(r)

    def _static_facts(self) -> dict[str, set[tuple[str, ...]]]:
        f: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for o, t in self.otype.items():
            f["objecttype"].add((o, t))
        for r, t in self.rtype.items():
            f["receptacletype"].add((r, t))
        for r, loc in self.recep_loc.items():
            f["receptacleatlocation"].add((r, loc))
        for rt, ot in self.can_contain:
            f["cancontain"].add((rt, ot))
        for pred, objs in self.static.items():
            for o in objs:
                f[pred].add((o,))
        return dict(f)

    def facts(self) -> FactIndex:
        """The current state as PDDL facts (lower-cased predicates), for goal checks."""
        if self._static_cache is None:
            self._static_cache = self._static_facts()
        f: dict[str, set[tuple[str, ...]]] = dict(self._static_cache)
        f["atlocation"] = {(self.agent, self.loc)}
        f["inreceptacle"] = set(self.in_recep)
        f["objectatlocation"] = set(self.obj_at)
        f["inreceptacleobject"] = set(self.in_obj)
        f["holds"] = {(self.agent, o) for o in self.held}
        for pred, objs in (
            ("opened", self.opened),
            ("isclean", self.clean),
            ("ishot", self.hot),
            ("iscool", self.cool),
            ("istoggled", self.toggled),
            ("ison", self.on),
            ("issliced", self.sliced),
        ):
            f[pred] = {(o,) for o in objs}
        f["holdsany"] = {(self.agent,)} if self.held else set()
        return FactIndex(f, self._static_index, frozenset(self._static_cache))

    def won(self) -> bool:
        """Whether the goal holds now (cached until the state changes)."""
        if self._won is None:
            self._won = holds(self.game.problem.goal, self.facts(), self._domain)
        return self._won

    # ------------------------------------------------------------------ text
    def n(self, e: str) -> str:
        """The demangled name of an entity id."""
        return self.names.get(e, e)

    def _accessible(self, r: str) -> bool:
        return r not in self.static["openable"] or r in self.opened

    def _sorted_names(self, ids: Iterable[str]) -> list[str]:
        """Names in TextWorld's listing order: by lower-cased PDDL id."""
        return [self.n(i) for i in sorted(set(ids), key=str.lower)]

    def describe_receptacle(self, r: str) -> str:
        """The ``examineReceptacle.feedback`` text."""
        name = self.n(r)
        items = [f"a {x}" for x in self._sorted_names(self.contents.get(r, ()))]
        if r in self.static["openable"]:
            if r in self.opened:
                return f"The {name} is open. In it, you see {join_list(items)}."
            return f"The {name} is closed."
        return f"On the {name}, you see {join_list(items)}."

    def look(self, intro: bool = False) -> str:
        """The ``look.feedback`` text.

        As TextWorld renders it: the ``look`` command binds the grammar's location to the agent's, so in the
        middle of the room (no receptacle there) it lists nothing, while the intro (rendered unbound)
        lists every receptacle. "Next to it" lists each object at this location with a
        ``not_inreceptacle(o, r)`` fact for a receptacle ``r`` here: an object taken from a receptacle here
        and put into another one here (or back into another source). It is listed once per such ``r``, so an
        object taken from two receptacles here appears twice.
        """
        here = self.loc_receps.get(self.loc)
        if here:
            floor = join_list([f"a {self.n(o)}" for o, _ in self._next_to()])
            return f"You are facing the {join_list([self.n(r) for r in here])}. Next to it, you see {floor}."
        items = [f"a {self.n(r)}" for r in self.receps if r in self.recep_loc] if intro else []
        return f"You are in the middle of a room. Looking quickly around you, you see {join_list(items)}."

    def _next_to(self) -> list[tuple[str, str]]:
        here = set(self.loc_receps.get(self.loc, ()))
        pairs = [(o, r) for (o, r) in self.not_in if r in here and (o, self.loc) in self.obj_at]
        return sorted(pairs, key=lambda p: (p[0].lower(), p[1].lower()))  # TextWorld's order: by PDDL ids

    def intro(self) -> str:
        """The first observation."""
        return f"{INTRO_HEADER}\n\n{self.look(intro=True)}\n\nYour task is to: {self.game.goal_text}."

    def examine_object(self, o: str) -> str:
        """The ``examineObject.feedback`` text."""
        name = self.n(o)
        if o in self.static["isreceptacleobject"]:
            inner = [f"a {x}" for x in self._sorted_names(i for i, out in self.in_obj if out == o)]
            return f"This is a normal {name}. In it, you see {join_list(inner)}."
        c, h, k, s = o in self.clean, o in self.hot, o in self.cool, o in self.sliced
        if c and h and s:
            return f"This is a hot and clean sliced {name}."
        if c and k and s:
            return f"This is a cool and clean sliced {name}."
        if c and s:
            return f"This is a clean sliced {name}."
        if h and s:
            return f"This is a hot sliced {name}."
        if k and s:
            return f"This is a cool sliced {name}."
        if c and h:
            return f"This is a hot and clean {name}."
        if c and k:
            return f"This is a cool and clean {name}."
        if h:
            return f"This is a hot {name}."
        if c:
            return f"This is a clean {name}."
        if k:
            return f"This is a cold {name}."
        if o in self.static["toggleable"]:
            return f"This {name} is on." if o in self.toggled else f"This {name} is off."
        if o in self.static["sliceable"] and s:
            return f"This is a sliced {name}."
        return f"There's nothing special about {name}."

    # ------------------------------------------------------------------ commands
    def commands(self) -> dict[str, tuple]:
        """Valid command text -> (action, args), for the current state (cached until the state changes)."""
        if self._cmds is not None:
            return self._cmds
        cmds: dict[str, tuple] = {"look": ("look",), "inventory": ("inventory",), "help": ("help",)}
        here = self.loc_receps.get(self.loc, [])
        n = self.n
        for r, loc in self.recep_loc.items():
            if loc != self.loc:
                cmds.setdefault(f"go to {n(r)}", ("goto", r))
        openable = self.static["openable"]
        held = self.held
        for r in here:
            rn = n(r)
            cmds.setdefault(f"examine {rn}", ("examine_r", r))
            if r in openable:
                if r in self.opened:
                    cmds.setdefault(f"close {rn}", ("close", r))
                else:
                    cmds.setdefault(f"open {rn}", ("open", r))
            acc = self._accessible(r)
            for o in self.contents.get(r, ()):
                # TextWorld grounds only the `holds` branch of examineObject's disjunctive precondition,
                # so objects can be examined only while carried.
                if acc:
                    if not held and o in self.static["pickupable"]:
                        cmds.setdefault(f"take {n(o)} from {rn}", ("take", o, r))
                if o in self.static["toggleable"]:
                    cmds.setdefault(f"use {n(o)}", ("use", o))
            rt = self.rtype.get(r)
            for o in held:
                if acc and (rt, self.otype.get(o)) in self.can_contain:
                    cmds.setdefault(f"move {n(o)} to {rn}", ("move", o, r))
                if rt == "MicrowaveType" and o in self.static["heatable"]:
                    cmds.setdefault(f"heat {n(o)} with {rn}", ("heat", o, r))
                if rt == "FridgeType" and o in self.static["coolable"]:
                    cmds.setdefault(f"cool {n(o)} with {rn}", ("cool", o, r))
                if rt == "SinkBasinType" and o in self.static["cleanable"]:
                    cmds.setdefault(f"clean {n(o)} with {rn}", ("clean", o, r))
        for o in held:
            cmds.setdefault(f"examine {n(o)}", ("examine_o", o))
            if self.otype.get(o) in ("KnifeType", "ButterKnifeType"):
                for co, loc in self.obj_at:
                    if loc == self.loc and co in self.static["sliceable"]:
                        cmds.setdefault(f"slice {n(co)} with {n(o)}", ("slice", co, o))
        self._cmds = cmds
        return cmds

    def admissible(self) -> list[str]:
        """The valid commands, sorted alphabetically (TextWorld's ``admissible_commands``)."""
        return sorted(self.commands())

    def step(self, command: str) -> tuple[str, bool]:
        """Carry out ``command``; returns (feedback, valid). Invalid commands change nothing."""
        act = self.commands().get(command.strip()) if isinstance(command, str) else None
        if act is None:
            return NOTHING_HAPPENS, False
        kind = act[0]
        n = self.n
        if kind == "look":
            return self.look(), True
        if kind == "inventory":
            if self.held:
                return (
                    f"You are carrying: {join_list([f'a {x}' for x in self._sorted_names(self.held)])}.",
                    True,
                )
            return "You are not carrying anything.", True
        if kind == "help":
            return HELP_TEXT, True
        if kind == "examine_r":
            return self.describe_receptacle(act[1]), True
        if kind == "examine_o":
            return self.examine_object(act[1]), True
        self._cmds = None
        self._won = None
        if kind == "goto":
            r = act[1]
            self.loc = self.recep_loc[r]
            return f"You arrive at {n(r)}. {self.describe_receptacle(r)}", True
        if kind == "open":
            self.opened.add(act[1])
            return f"You open the {n(act[1])}. {self.describe_receptacle(act[1])}", True
        if kind == "close":
            self.opened.discard(act[1])
            return f"You close the {n(act[1])}.", True
        if kind == "take":
            o, r = act[1], act[2]
            self.in_recep.discard((o, r))
            self.not_in[(o, r)] = None
            self.obj_at.discard((o, self.loc))
            self.held.append(o)
            self._index_contents()
            return f"You pick up the {n(o)} from the {n(r)}.", True
        if kind == "move":
            o, r = act[1], act[2]
            self.in_recep.add((o, r))
            self.not_in.pop((o, r), None)
            self.obj_at.add((o, self.loc))
            self.held.remove(o)
            self._index_contents()
            return f"You move the {n(o)} to the {n(r)}.", True
        if kind == "heat":
            self.hot.add(act[1])
            self.cool.discard(act[1])
            return f"You heat the {n(act[1])} using the {n(act[2])}.", True
        if kind == "cool":
            self.cool.add(act[1])
            self.hot.discard(act[1])
            return f"You cool the {n(act[1])} using the {n(act[2])}.", True
        if kind == "clean":
            self.clean.add(act[1])
            return f"You clean the {n(act[1])} using the {n(act[2])}.", True
        if kind == "use":
            o = act[1]
            if o in self.on:
                self.on.discard(o)
            else:
                self.on.add(o)
            self.toggled.add(o)
            return f"You turn on the {n(o)}.", True
        if kind == "slice":
            self.sliced.add(act[1])
            return f"You sliced the {n(act[1])} with the {n(act[2])}.", True
        raise AssertionError(kind)  # pragma: no cover
