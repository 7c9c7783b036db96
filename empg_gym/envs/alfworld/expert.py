"""A scripted expert for ALFWorld games, in the spirit of alfworld's handcoded expert.

alfworld's ``HandCodedTWAgent`` follows a subgoal list per task type (find obj -> take -> [heat|cool|clean at
microwave|fridge|sinkbasin] -> find recep -> put; look-at ends with find lamp -> use; pick-two does it twice),
searching receptacles for the object. This expert follows the same subgoal lists in two modes:

- **oracle** (``seen=None``): it reads object locations from the simulator state instead of searching, so it
  plays short, deterministic solutions. A text-only policy cannot imitate it well: the prompt does not show
  why it walks to one cabinet rather than another.
- **search** (``seen`` = the receptacles whose contents the agent has been shown): it only knows objects it
  has seen. While no wanted object is known it opens the receptacles in the order of their names (cabinet 1,
  cabinet 2, ..., countertop 1: the order of the admissible commands) among those that can hold the object's
  type, skipping the ones already seen, as the handcoded agent explores; then it follows the same plan as
  the oracle. Every choice it makes is explained by the observations, which is what behaviour cloning needs.

Both work from any state, including after random moves.

:func:`task_params` reads the targets (object, receptacle and lamp classes, needed states) from the goal
formula.
"""

from __future__ import annotations

from dataclasses import dataclass

from empg_gym.envs.alfworld.world import World

__all__ = ["TaskParams", "expert_action", "task_params"]

_PROPS = {"isclean": "clean", "ishot": "hot", "iscool": "cool"}
_APPLIANCE = {"clean": "SinkBasinType", "hot": "MicrowaveType", "cool": "FridgeType"}
_VERB = {"clean": "clean", "hot": "heat", "cool": "cool"}


@dataclass(frozen=True)
class TaskParams:
    """What a goal asks for.

    Attributes:
        obj_type: PDDL type of the object to handle (``AppleType``).
        recep_type: PDDL type of the destination receptacle, or "" (look-at tasks).
        toggle_type: PDDL type of the lamp to turn on, or "" (look-at tasks only).
        state: "clean", "hot", "cool" or "".
        count: How many objects must end up in the receptacle (2 for pick_two).
    """

    obj_type: str
    recep_type: str = ""
    toggle_type: str = ""
    state: str = ""
    count: int = 1


def _atoms(f, out: list) -> list:
    if isinstance(f, list):
        if f and isinstance(f[0], str) and f[0] not in ("and", "or", "not", "exists", "forall", "="):
            out.append(f)
        elif f and f[0] == "not":
            return out
        else:
            for g in f[1:] if f and isinstance(f[0], str) else f:
                _atoms(g, out)
    return out


def task_params(goal) -> TaskParams:
    """Read the targets of an ALFWorld goal formula."""
    atoms = _atoms(goal, [])
    var_type: dict[str, str] = {}
    toggles: set[str] = set()
    state = ""
    obj_vars: list[str] = []
    recep_type = ""
    for a in atoms:
        head = a[0].lower()
        if head == "objecttype":
            var_type[a[1]] = a[2]
            if a[1] not in obj_vars:
                obj_vars.append(a[1])
        elif head == "receptacletype":
            recep_type = a[2]
        elif head in ("toggleable", "istoggled"):
            toggles.add(a[1])
        elif head in _PROPS:
            state = _PROPS[head]
    toggle_type = next((var_type[v] for v in obj_vars if v in toggles), "")
    objs = [v for v in obj_vars if v not in toggles]
    obj_type = var_type[objs[0]] if objs else ""
    count = len({v for v in objs}) if recep_type else 1
    return TaskParams(
        obj_type=obj_type,
        recep_type=recep_type,
        toggle_type=toggle_type,
        state=state,
        count=max(1, min(count, 2)),
    )


def _has_state(w: World, o: str, state: str) -> bool:
    return not state or o in {"clean": w.clean, "hot": w.hot, "cool": w.cool}[state]


def _go_or_act(w: World, r: str, cmds: dict) -> str | None:
    """Walk to receptacle ``r`` and open it if needed; None when already there and it is accessible."""
    if w.recep_loc.get(r) != w.loc:
        return f"go to {w.n(r)}"
    if r in w.static["openable"] and r not in w.opened:
        return f"open {w.n(r)}"
    return None


def _by_name(w: World, ids) -> list[str]:
    return sorted(
        ids,
        key=lambda i: (w.n(i).split(" ")[0], int(w.n(i).rsplit(" ", 1)[-1]) if w.n(i)[-1:].isdigit() else 0),
    )


def expert_action(w: World, params: TaskParams, seen: set[str] | None = None) -> str:
    """The expert's next command in ``w``'s current state (always a valid command).

    Args:
        w: The simulator state.
        params: The goal's targets (:func:`task_params`).
        seen: Receptacles whose contents the agent has been shown (search mode), or None (oracle mode).
    """
    cmds = w.commands()
    p = params
    otype = w.otype
    receps_of = [r for r in w.receps if w.rtype.get(r) == p.recep_type] if p.recep_type else []
    held = w.held[0] if w.held else None

    def wanted(o: str) -> bool:
        return otype.get(o) == p.obj_type

    # --- look at obj in light: hold the object, then turn on a lamp where you stand
    if p.toggle_type:
        if held is None or not wanted(held):
            if held is not None:
                return _drop(w, held, cmds)
            return _fetch(w, p, wanted, exclude=set(), cmds=cmds, seen=seen)
        lamps = [
            o for o in _by_name(w, w.where) if otype.get(o) == p.toggle_type and o in w.static["toggleable"]
            and (seen is None or w.where[o][0] in seen)
        ]
        if not lamps:
            return _explore(w, p.toggle_type, seen or set())
        for lamp in lamps:
            r = w.where[lamp][0]
            if w.recep_loc.get(r) == w.loc:
                return f"use {w.n(lamp)}"
        return f"go to {w.n(w.where[lamps[0]][0])}"

    # --- put count objects (with the state) into one receptacle of the type
    def done_in(r: str) -> list[str]:
        return [o for o in w.contents.get(r, ()) if wanted(o) and _has_state(w, o, p.state)]

    target = max(receps_of, key=lambda r: (len(done_in(r)), -receps_of.index(r)))
    placed = set(done_in(target))
    if held is not None and not wanted(held):
        return _drop(w, held, cmds)
    if held is not None:
        if not _has_state(w, held, p.state):
            app = next(r for r in w.receps if w.rtype.get(r) == _APPLIANCE[p.state])
            if w.recep_loc.get(app) != w.loc:
                return f"go to {w.n(app)}"
            return f"{_VERB[p.state]} {w.n(held)} with {w.n(app)}"
        step = _go_or_act(w, target, cmds)
        return step or f"move {w.n(held)} to {w.n(target)}"
    return _fetch(
        w,
        p,
        wanted,
        exclude=placed | set(w.contents.get(target, ())) if p.count > 1 else set(),
        cmds=cmds,
        avoid=target if p.count > 1 else None,
        seen=seen,
    )


def _fetch(
    w: World,
    p: TaskParams,
    wanted,
    exclude: set[str],
    cmds: dict,
    avoid: str | None = None,
    seen: set[str] | None = None,
) -> str:
    """Go to (and open) the best receptacle holding a wanted object, then take it.

    In search mode only receptacles in ``seen`` count; with no wanted object among them, explore.
    """
    need = {"clean": "cleanable", "hot": "heatable", "cool": "coolable"}.get(p.state)
    cands: list[tuple] = []
    for o in _by_name(w, w.where):
        if not wanted(o) or o in exclude or o not in w.static["pickupable"]:
            continue
        if need and o not in w.static[need]:
            continue
        for r in w.where[o]:
            if r == avoid or r not in w.recep_loc or (seen is not None and r not in seen):
                continue
            cost = (0 if w.recep_loc[r] == w.loc else 1) + (
                1 if r in w.static["openable"] and r not in w.opened else 0
            )
            cands.append((cost, len(cands), o, r))
    if not cands:
        if seen is not None:
            return _explore(w, p.obj_type, seen, avoid)
        raise RuntimeError(f"expert: no {p.obj_type} left to take")
    _, _, o, r = min(cands)
    step = _go_or_act(w, r, cmds)
    return step or f"take {w.n(o)} from {w.n(r)}"


def _explore(w: World, obj_type: str, seen: set[str], avoid: str | None = None) -> str:
    """Search mode: go to (and open) the first unseen receptacle, by name, that can hold ``obj_type``.

    A type that is never placed (a desk lamp) may stand on any receptacle.

    Raises:
        RuntimeError: Every such receptacle has been seen (the caller falls back to a harmless command).
    """
    placeable = any(ot == obj_type for _, ot in w.can_contain)  # lamps are not: they may stand on anything
    for r in _by_name(w, w.receps):
        if r in seen or r == avoid or r not in w.recep_loc:
            continue
        if placeable and (w.rtype.get(r), obj_type) not in w.can_contain:
            continue
        return _go_or_act(w, r, {}) or f"examine {w.n(r)}"  # examine: another receptacle's spot
    raise RuntimeError(f"expert: searched every receptacle for {obj_type}")


def _drop(w: World, o: str, cmds: dict) -> str:
    """Put down an object the task does not need: here if possible, else where it fits."""
    for c in sorted(cmds):
        if c.startswith(f"move {w.n(o)} to "):
            return c
    for r in w.receps:
        if (w.rtype.get(r), w.otype.get(o)) in w.can_contain and r in w.recep_loc:
            step = _go_or_act(w, r, cmds)
            if step:
                return step
    raise RuntimeError(f"expert: nowhere to put {w.n(o)}")
