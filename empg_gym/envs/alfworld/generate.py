"""Generate ALFWorld-style games.

ALFRED rooms, object placements, the six task types and their goal phrasings.

Every game is a :class:`~empg_gym.envs.alfworld.pddl.Game` whose PDDL problem looks like ALFWorld's (mangled
THOR-style ids such as ``Mug_bar__plus_01_dot_20_bar__plus_00_dot_90_bar__minus_02_dot_10``, ``loc_bar_...``
locations, the same predicates and the same goal formulas), so the simulator plays it exactly like a real game
and :mod:`empg_gym.envs.alfworld.export` can write it as a ``game.tw-pddl`` for TextWorld.

Rooms follow ALFRED's four scene kinds and floor-plan numbering (kitchens 1-30, living rooms 201-230, bedrooms
301-330, bathrooms 401-430). A floor plan fixes the receptacles and their locations (from the seed); each game
places objects anew. Splits:

- ``train`` and ``valid_seen`` use floor plans ``x01``-``x25``; ``valid_unseen`` uses ``x26``-``x30``;
- a fixed fifth of the (task type, object, receptacle) combinations is held out of
``train``/``valid_seen`` and
  preferred by ``valid_unseen``;
- ``valid_seen`` has 140 games and ``valid_unseen`` 134 by default, like ALFWorld; ``train`` is as long
as asked.

Class tables (which objects a receptacle class can hold, object properties, openable classes) follow ALFRED's
constants as they appear in ALFWorld's games.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from empg_gym.envs.alfworld.pddl import TASK_TYPES, Game, Problem, parse_sexpr

__all__ = ["GOAL_TEMPLATES", "SPLIT_SIZES", "generate_game", "generate_split", "game_ids"]

SPLIT_SIZES = {"train": 3553, "valid_seen": 140, "valid_unseen": 134}

#: ALFWorld's goal phrasings (``alfworld/gen/goal_library.py``), two per task type.
GOAL_TEMPLATES: dict[str, tuple[str, str]] = {
    "pick_and_place_simple": ("put a {obj} in {recep}", "put some {obj} on {recep}"),
    "look_at_obj_in_light": ("look at {obj} under the {toggle}", "examine the {obj} with the {toggle}"),
    "pick_clean_then_place_in_recep": (
        "put a clean {obj} in {recep}",
        "clean some {obj} and put it in {recep}",
    ),
    "pick_heat_then_place_in_recep": ("put a hot {obj} in {recep}", "heat some {obj} and put it in {recep}"),
    "pick_cool_then_place_in_recep": ("put a cool {obj} in {recep}", "cool some {obj} and put it in {recep}"),
    "pick_two_obj_and_place": ("put two {obj} in {recep}", "find two {obj} and put them in {recep}"),
}

OPENABLE = frozenset({"Cabinet", "Drawer", "Fridge", "Microwave", "Safe"})

#: receptacle class -> object classes it can contain
CAN_CONTAIN: dict[str, tuple[str, ...]] = {
    "ArmChair": (
        "Book",
        "Box",
        "CellPhone",
        "Cloth",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Newspaper",
        "Pillow",
        "RemoteControl",
    ),
    "BathtubBasin": ("Cloth", "DishSponge", "HandTowel", "SoapBar"),
    "Bed": ("BaseballBat", "BasketBall", "Book", "CellPhone", "Laptop", "Pillow", "TennisRacket"),
    "Cabinet": (
        "Book",
        "Bowl",
        "Box",
        "CD",
        "Candle",
        "Cloth",
        "Cup",
        "DishSponge",
        "Glassbottle",
        "HandTowel",
        "Kettle",
        "Ladle",
        "Mug",
        "Newspaper",
        "Pan",
        "PepperShaker",
        "Plate",
        "Plunger",
        "Pot",
        "SaltShaker",
        "SoapBar",
        "SoapBottle",
        "SprayBottle",
        "TissueBox",
        "ToiletPaper",
        "Vase",
        "WateringCan",
        "WineBottle",
    ),
    "Cart": (
        "Candle",
        "Cloth",
        "DishSponge",
        "HandTowel",
        "Plunger",
        "SoapBar",
        "SoapBottle",
        "SprayBottle",
        "TissueBox",
        "ToiletPaper",
    ),
    "CoffeeMachine": ("Mug",),
    "CoffeeTable": (
        "Book",
        "Bowl",
        "Box",
        "Candle",
        "CellPhone",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Newspaper",
        "Pen",
        "Pencil",
        "Plate",
        "RemoteControl",
        "Statue",
        "TissueBox",
        "Vase",
        "Watch",
        "WateringCan",
    ),
    "CounterTop": (
        "AlarmClock",
        "Apple",
        "Book",
        "Bowl",
        "Bread",
        "ButterKnife",
        "CD",
        "Candle",
        "CellPhone",
        "Cloth",
        "CreditCard",
        "Cup",
        "DishSponge",
        "Egg",
        "Fork",
        "Glassbottle",
        "HandTowel",
        "Kettle",
        "KeyChain",
        "Knife",
        "Ladle",
        "Laptop",
        "Lettuce",
        "Mug",
        "Pan",
        "Pen",
        "Pencil",
        "PepperShaker",
        "Plate",
        "Pot",
        "Potato",
        "RemoteControl",
        "SaltShaker",
        "SoapBar",
        "SoapBottle",
        "Spatula",
        "Spoon",
        "SprayBottle",
        "Statue",
        "TissueBox",
        "ToiletPaper",
        "Tomato",
        "Vase",
        "WineBottle",
    ),
    "Desk": (
        "AlarmClock",
        "BasketBall",
        "Book",
        "Bowl",
        "Box",
        "CD",
        "CellPhone",
        "Cloth",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Mug",
        "Pen",
        "Pencil",
        "RemoteControl",
        "Statue",
        "TennisRacket",
        "TissueBox",
        "Vase",
        "Watch",
        "WateringCan",
    ),
    "DiningTable": (
        "AlarmClock",
        "Apple",
        "BaseballBat",
        "Book",
        "Bowl",
        "Box",
        "Bread",
        "ButterKnife",
        "CD",
        "Candle",
        "CellPhone",
        "CreditCard",
        "Cup",
        "DishSponge",
        "Egg",
        "Fork",
        "Glassbottle",
        "Kettle",
        "KeyChain",
        "Knife",
        "Ladle",
        "Laptop",
        "Lettuce",
        "Mug",
        "Newspaper",
        "Pan",
        "Pen",
        "Pencil",
        "PepperShaker",
        "Plate",
        "Pot",
        "Potato",
        "RemoteControl",
        "SaltShaker",
        "SoapBottle",
        "Spatula",
        "Spoon",
        "SprayBottle",
        "Statue",
        "TissueBox",
        "Tomato",
        "Vase",
        "Watch",
        "WateringCan",
        "WineBottle",
    ),
    "Drawer": (
        "Book",
        "ButterKnife",
        "CD",
        "Candle",
        "CellPhone",
        "Cloth",
        "CreditCard",
        "DishSponge",
        "Fork",
        "HandTowel",
        "KeyChain",
        "Knife",
        "Ladle",
        "Newspaper",
        "Pen",
        "Pencil",
        "PepperShaker",
        "RemoteControl",
        "SaltShaker",
        "SoapBar",
        "SoapBottle",
        "Spatula",
        "Spoon",
        "SprayBottle",
        "TissueBox",
        "ToiletPaper",
        "Watch",
        "WateringCan",
    ),
    "Dresser": (
        "AlarmClock",
        "BasketBall",
        "Book",
        "Bowl",
        "Box",
        "CD",
        "Candle",
        "CellPhone",
        "Cloth",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Mug",
        "Newspaper",
        "Pen",
        "Pencil",
        "RemoteControl",
        "SprayBottle",
        "Statue",
        "TennisRacket",
        "TissueBox",
        "ToiletPaper",
        "Vase",
        "Watch",
        "WateringCan",
    ),
    "Fridge": (
        "Apple",
        "Bowl",
        "Bread",
        "Cup",
        "Egg",
        "Glassbottle",
        "Lettuce",
        "Mug",
        "Pan",
        "Plate",
        "Pot",
        "Potato",
        "Tomato",
        "WineBottle",
    ),
    "GarbageCan": (
        "Apple",
        "Bread",
        "CD",
        "Cloth",
        "DishSponge",
        "Egg",
        "HandTowel",
        "Lettuce",
        "Newspaper",
        "Pen",
        "Pencil",
        "Potato",
        "SoapBar",
        "SoapBottle",
        "SprayBottle",
        "TissueBox",
        "ToiletPaper",
        "Tomato",
        "WineBottle",
    ),
    "HandTowelHolder": ("HandTowel",),
    "LaundryHamper": ("Cloth",),
    "Microwave": ("Apple", "Bowl", "Bread", "Cup", "Egg", "Glassbottle", "Mug", "Plate", "Potato", "Tomato"),
    "Ottoman": (
        "Book",
        "Box",
        "CellPhone",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Newspaper",
        "Pillow",
        "RemoteControl",
    ),
    "Safe": ("CD", "CellPhone", "CreditCard", "KeyChain", "Statue", "Vase", "Watch"),
    "Shelf": (
        "AlarmClock",
        "Book",
        "Bowl",
        "Box",
        "CD",
        "Candle",
        "CellPhone",
        "Cloth",
        "CreditCard",
        "Cup",
        "DishSponge",
        "Glassbottle",
        "HandTowel",
        "Kettle",
        "KeyChain",
        "Mug",
        "Newspaper",
        "Pen",
        "Pencil",
        "PepperShaker",
        "Plate",
        "Pot",
        "RemoteControl",
        "SaltShaker",
        "SoapBar",
        "SoapBottle",
        "SprayBottle",
        "Statue",
        "TissueBox",
        "ToiletPaper",
        "Vase",
        "Watch",
        "WateringCan",
        "WineBottle",
    ),
    "SideTable": (
        "AlarmClock",
        "Apple",
        "Book",
        "Bowl",
        "Box",
        "Bread",
        "ButterKnife",
        "CD",
        "Candle",
        "CellPhone",
        "Cloth",
        "CreditCard",
        "Cup",
        "DishSponge",
        "Egg",
        "Fork",
        "KeyChain",
        "Knife",
        "Laptop",
        "Lettuce",
        "Mug",
        "Newspaper",
        "Pen",
        "Pencil",
        "PepperShaker",
        "Plate",
        "Potato",
        "RemoteControl",
        "SaltShaker",
        "SoapBar",
        "SoapBottle",
        "Spatula",
        "Spoon",
        "SprayBottle",
        "Statue",
        "TissueBox",
        "ToiletPaper",
        "Tomato",
        "Vase",
        "Watch",
        "WateringCan",
        "WineBottle",
    ),
    "SinkBasin": (
        "Apple",
        "Bowl",
        "ButterKnife",
        "Cloth",
        "Cup",
        "DishSponge",
        "Egg",
        "Fork",
        "Glassbottle",
        "HandTowel",
        "Kettle",
        "Knife",
        "Ladle",
        "Lettuce",
        "Mug",
        "Pan",
        "Plate",
        "Pot",
        "Potato",
        "SoapBar",
        "Spatula",
        "Spoon",
        "Tomato",
    ),
    "Sofa": (
        "Book",
        "Box",
        "CellPhone",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Newspaper",
        "Pillow",
        "RemoteControl",
    ),
    "StoveBurner": ("Kettle", "Pan", "Pot"),
    "TVStand": ("TissueBox",),
    "Toaster": (),
    "Toilet": (
        "Candle",
        "Cloth",
        "DishSponge",
        "HandTowel",
        "SoapBar",
        "SoapBottle",
        "SprayBottle",
        "TissueBox",
        "ToiletPaper",
    ),
    "ToiletPaperHanger": ("ToiletPaper",),
    "TowelHolder": ("Towel",),
}

_C, _H, _K, _S, _R = "cleanable", "heatable", "coolable", "sliceable", "isReceptacleObject"
#: object class -> properties besides ``pickupable``
PROPS: dict[str, tuple[str, ...]] = {
    "Apple": (_C, _H, _K, _S),
    "Bowl": (_C, _K, _R),
    "Bread": (_H, _K, _S),
    "ButterKnife": (_C,),
    "Cloth": (_C,),
    "Cup": (_C, _H, _K, _R),
    "DishSponge": (_C,),
    "Egg": (_C, _H, _K, _S),
    "Fork": (_C,),
    "Kettle": (_C,),
    "Knife": (_C,),
    "Ladle": (_C,),
    "Lettuce": (_C, _K, _S),
    "Mug": (_C, _H, _K, _R),
    "Pan": (_C, _K, _R),
    "Plate": (_C, _H, _K, _R),
    "Pot": (_C, _K, _R),
    "Potato": (_C, _H, _K, _S),
    "SoapBar": (_C,),
    "Spatula": (_C,),
    "Spoon": (_C,),
    "Tomato": (_C, _H, _K, _S),
    "WineBottle": (_K,),
    "Box": (_R,),
}

#: room kind -> (floor-plan base, receptacle class -> (min, max) count, object classes)
ROOMS: dict[str, tuple[int, dict[str, tuple[int, int]], tuple[str, ...]]] = {
    "kitchen": (
        0,
        {
            "Cabinet": (4, 12),
            "CoffeeMachine": (1, 1),
            "CounterTop": (1, 3),
            "DiningTable": (0, 1),
            "Drawer": (2, 8),
            "Fridge": (1, 1),
            "GarbageCan": (1, 1),
            "Microwave": (1, 1),
            "Shelf": (0, 3),
            "SinkBasin": (1, 1),
            "StoveBurner": (4, 4),
            "Toaster": (1, 1),
        },
        (
            "Apple",
            "Bowl",
            "Bread",
            "ButterKnife",
            "Cup",
            "DishSponge",
            "Egg",
            "Fork",
            "Glassbottle",
            "Kettle",
            "Knife",
            "Ladle",
            "Lettuce",
            "Mug",
            "Pan",
            "PepperShaker",
            "Plate",
            "Pot",
            "Potato",
            "SaltShaker",
            "SoapBottle",
            "Spatula",
            "Spoon",
            "Tomato",
            "WineBottle",
            "Vase",
            "Statue",
            "CellPhone",
            "CreditCard",
        ),
    ),
    "livingroom": (
        200,
        {
            "ArmChair": (1, 2),
            "Cabinet": (0, 4),
            "CoffeeTable": (1, 1),
            "DiningTable": (0, 1),
            "Drawer": (1, 6),
            "Dresser": (0, 1),
            "GarbageCan": (1, 1),
            "Ottoman": (0, 1),
            "Shelf": (1, 6),
            "SideTable": (1, 3),
            "Sofa": (1, 1),
            "TVStand": (0, 1),
        },
        (
            "Book",
            "Box",
            "CellPhone",
            "CreditCard",
            "KeyChain",
            "Laptop",
            "Newspaper",
            "Pillow",
            "RemoteControl",
            "Statue",
            "TissueBox",
            "Vase",
            "Watch",
            "WateringCan",
            "Candle",
            "Pen",
            "Pencil",
            "Plate",
            "Bowl",
        ),
    ),
    "bedroom": (
        300,
        {
            "ArmChair": (0, 1),
            "Bed": (1, 1),
            "Desk": (1, 1),
            "Drawer": (2, 10),
            "Dresser": (0, 1),
            "GarbageCan": (1, 1),
            "LaundryHamper": (0, 1),
            "Safe": (0, 1),
            "Shelf": (0, 6),
            "SideTable": (1, 2),
        },
        (
            "AlarmClock",
            "BaseballBat",
            "BasketBall",
            "Book",
            "Bowl",
            "CD",
            "CellPhone",
            "Cloth",
            "CreditCard",
            "KeyChain",
            "Laptop",
            "Mug",
            "Pen",
            "Pencil",
            "Pillow",
            "TennisRacket",
            "TissueBox",
            "Vase",
            "Watch",
            "Statue",
        ),
    ),
    "bathroom": (
        400,
        {
            "BathtubBasin": (0, 1),
            "Cabinet": (2, 6),
            "Cart": (0, 1),
            "CounterTop": (1, 1),
            "Drawer": (0, 4),
            "GarbageCan": (1, 1),
            "HandTowelHolder": (1, 2),
            "Shelf": (0, 3),
            "SinkBasin": (1, 2),
            "Toilet": (1, 1),
            "ToiletPaperHanger": (1, 1),
            "TowelHolder": (1, 2),
        },
        (
            "Candle",
            "Cloth",
            "DishSponge",
            "HandTowel",
            "Plunger",
            "SoapBar",
            "SoapBottle",
            "SprayBottle",
            "TissueBox",
            "ToiletPaper",
            "Towel",
        ),
    ),
}

#: which rooms host which task types (ALFRED's scene split of tasks)
TASK_ROOMS: dict[str, tuple[str, ...]] = {
    "pick_and_place_simple": ("kitchen", "livingroom", "bedroom", "bathroom"),
    "look_at_obj_in_light": ("bedroom", "livingroom"),
    "pick_clean_then_place_in_recep": ("kitchen", "bathroom"),
    "pick_heat_then_place_in_recep": ("kitchen",),
    "pick_cool_then_place_in_recep": ("kitchen",),
    "pick_two_obj_and_place": ("kitchen", "livingroom", "bedroom", "bathroom"),
}
_APPLIANCE = {
    "pick_clean_then_place_in_recep": "SinkBasin",
    "pick_heat_then_place_in_recep": "Microwave",
    "pick_cool_then_place_in_recep": "Fridge",
}
_NEED = {
    "pick_clean_then_place_in_recep": _C,
    "pick_heat_then_place_in_recep": _H,
    "pick_cool_then_place_in_recep": _K,
}
#: lamps for look-at tasks, by room, and where they stand
LAMPS = {
    "bedroom": ("DeskLamp", ("Desk", "SideTable", "Dresser", "Shelf")),
    "livingroom": ("FloorLamp", ("SideTable", "Dresser", "CoffeeTable")),
}
#: receptacles never used as the destination of a task (ALFRED's tasks do not target them)
_NOT_TARGET = frozenset(
    {
        "GarbageCan",
        "Toaster",
        "StoveBurner",
        "HandTowelHolder",
        "TowelHolder",
        "ToiletPaperHanger",
        "LaundryHamper",
        "TVStand",
        "CoffeeMachine",
    }
)

UNSEEN_PLANS = range(26, 31)
SEEN_PLANS = range(1, 26)


def _rng(*parts: object) -> random.Random:
    h = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def _coord(v: float) -> str:
    sign = "_plus_" if v >= 0 else "_minus_"
    whole, frac = f"{abs(v):05.2f}".split(".")
    return f"{sign}{whole}_dot_{frac}"


def _xyz_id(cls: str, rng: random.Random, suffix: str = "") -> str:
    xyz = [
        round(rng.uniform(-3.5, 3.5), 2),
        round(rng.uniform(0.0, 2.0), 2),
        round(rng.uniform(-3.5, 3.5), 2),
    ]
    return f"{cls}_bar_" + "_bar_".join(_coord(v) for v in xyz) + (f"_bar_{suffix}" if suffix else "")


def _loc_id(rng: random.Random) -> str:
    def c(v: int) -> str:
        return f"_minus_{-v}" if v < 0 else str(v)

    vals = [
        rng.randint(-12, 12),
        rng.randint(-12, 12),
        rng.randint(0, 3),
        rng.choice([-30, 0, 15, 30, 45, 60]),
    ]
    return "loc_bar_" + "_bar_".join(c(v) for v in vals)


def combo_held_out(task_type: str, obj: str, recep: str) -> bool:
    """Whether a (task type, object, receptacle/lamp) combination is held out for ``valid_unseen``."""
    return hashlib.sha256(f"{task_type}|{obj}|{recep}".encode()).digest()[0] % 5 == 0


@dataclass(frozen=True)
class Layout:
    """A floor plan: receptacles (id -> class), their locations and the agent's start."""

    room: str
    plan: int
    receps: dict[str, str]
    recep_loc: dict[str, str]
    start: str


def make_layout(room: str, plan: int, seed: int) -> Layout:
    """The receptacles of floor plan ``plan`` of a room kind (fixed by ``seed``)."""
    base, counts, _ = ROOMS[room]
    rng = _rng("layout", seed, room, plan)
    used_ids: set[str] = set()
    used_locs: set[str] = set()

    def fresh(fn, *a) -> str:
        while True:
            x = fn(*a)
            if x not in used_ids and x not in used_locs:
                return x

    receps: dict[str, str] = {}
    recep_loc: dict[str, str] = {}
    for cls, (lo, hi) in counts.items():
        n = rng.randint(lo, hi)
        shared = None
        for i in range(n):
            rid = fresh(
                _xyz_id,
                "Sink" if cls == "SinkBasin" else ("Bathtub" if cls == "BathtubBasin" else cls),
                rng,
                cls if cls in ("SinkBasin", "BathtubBasin") else "",
            )
            used_ids.add(rid)
            receps[rid] = cls
            # stacked drawers and paired burners share a spot now and then, as in ALFRED's floor plans
            if shared is not None and cls in ("Drawer", "StoveBurner", "Cabinet") and rng.random() < 0.3:
                recep_loc[rid] = shared
            else:
                loc = fresh(_loc_id, rng)
                used_locs.add(loc)
                recep_loc[rid] = loc
            shared = recep_loc[rid] if i % 2 == 0 else None
    start = fresh(_loc_id, rng)
    return Layout(room=room, plan=base + plan, receps=receps, recep_loc=recep_loc, start=start)


def _goal_pddl(task_type: str, obj: str, recep: str, toggle: str) -> str:
    o, r, t = f"{obj}Type", f"{recep}Type", f"{toggle}Type"
    if task_type == "look_at_obj_in_light":
        return (
            f"(and (exists (?ot - object ?r - receptacle ?a - agent ?l - location) (and (objectType ?ot {t}) "
            f"(toggleable ?ot) (isToggled ?ot) (receptacleAtLocation ?r ?l) (atLocation ?a ?l) "
            f"(inReceptacle ?ot ?r))) "
            f"(exists (?o - object ?a - agent) (and (objectType ?o {o}) (holds ?a ?o))))"
        )
    if task_type == "pick_two_obj_and_place":
        return (
            f"(and (exists (?r - receptacle) (exists (?o1 - object) (and (objectType ?o1 {o}) "
            f"(receptacleType ?r {r}) (inReceptacle ?o1 ?r) (exists (?o2 - object) (and (not (= ?o1 ?o2)) "
            f"(objectType ?o2 {o}) (receptacleType ?r {r}) (inReceptacle ?o2 ?r)))))))"
        )
    extra = {
        "pick_clean_then_place_in_recep": ("cleanable", "isClean"),
        "pick_heat_then_place_in_recep": ("heatable", "isHot"),
        "pick_cool_then_place_in_recep": ("coolable", "isCool"),
    }.get(task_type)
    if extra is None:
        return (
            f"(and (exists (?r - receptacle) (exists (?o - object) (and (inReceptacle ?o ?r) "
            f"(objectType ?o {o}) (receptacleType ?r {r})))))"
        )
    return (
        f"(and (exists (?r - receptacle) (exists (?o - object) (and ({extra[0]} ?o) (objectType ?o {o}) "
        f"(receptacleType ?r {r}) ({extra[1]} ?o) (inReceptacle ?o ?r)))))"
    )


def game_ids(split: str, n: int | None = None) -> list[str]:
    """Ids of the generated games of a split (``gen/<split>/<index>``)."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_SIZES)}")
    return [f"gen/{split}/{i:04d}" for i in range(SPLIT_SIZES[split] if n is None else n)]


def generated_task_type(split: str, index: int, seed: int = 0) -> str:
    """Task type of generated game ``index`` of ``split``, without generating the game.

    The types cycle in a seed-shuffled order, so every split holds the six in equal shares.
    """
    order = list(TASK_TYPES)
    _rng("types", seed, split).shuffle(order)
    return order[index % 6]


def generate_game(split: str, index: int, seed: int = 0) -> Game:
    """Generate game ``index`` of ``split`` (deterministic in ``seed``, ``split`` and ``index``)."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_SIZES)}")
    unseen = split == "valid_unseen"
    task_type = generated_task_type(split, index, seed)
    for attempt in range(200):
        rng = _rng("game", seed, split, index, attempt)
        room = rng.choice(TASK_ROOMS[task_type])
        plan = rng.choice(UNSEEN_PLANS if unseen else SEEN_PLANS)
        layout = make_layout(room, plan, seed)
        game = _try_game(task_type, layout, rng, unseen, prefer_held_out=unseen and attempt < 100)
        if game is not None:
            game.path = f"gen/{split}/{index:04d}"
            game.extra.update(
                {"split": split, "index": index, "seed": seed, "room": room, "floorplan": layout.plan}
            )
            return game
    raise RuntimeError(f"could not generate game {split}/{index}")  # pragma: no cover


def _try_game(task_type: str, layout: Layout, rng: random.Random, unseen: bool, prefer_held_out: bool):
    room = layout.room
    objs_here = ROOMS[room][2]
    rclasses = sorted(set(layout.receps.values()))
    appliance = _APPLIANCE.get(task_type)
    if appliance and appliance not in rclasses:
        return None
    lamp_cls, lamp_spots = LAMPS.get(room, ("", ()))
    if task_type == "look_at_obj_in_light":
        spots = [r for r, c in layout.receps.items() if c in lamp_spots]
        if not spots:
            return None
    need = _NEED.get(task_type)
    combos = []
    for o in objs_here:
        if need and need not in PROPS.get(o, ()):
            continue
        holders = [c for c in rclasses if o in CAN_CONTAIN.get(c, ())]
        if not holders:
            continue
        if task_type == "look_at_obj_in_light":
            combos.append((o, lamp_cls))
            continue
        for rc in holders:
            if rc in _NOT_TARGET or rc == appliance:
                continue
            if len([c for c in holders if c != rc]) == 0:
                continue  # the object must start somewhere else
            combos.append((o, rc))
    if not unseen:
        combos = [c for c in combos if not combo_held_out(task_type, *c)]
    elif prefer_held_out:
        held = [c for c in combos if combo_held_out(task_type, *c)]
        combos = held or combos
    if not combos:
        return None
    obj, target = rng.choice(combos)
    recep = "" if task_type == "look_at_obj_in_light" else target
    toggle = target if task_type == "look_at_obj_in_light" else ""

    # ---- place objects
    by_class: dict[str, list[str]] = {}
    for rid, c in layout.receps.items():
        by_class.setdefault(c, []).append(rid)
    used: set[str] = set(layout.receps) | set(layout.recep_loc.values()) | {layout.start}
    objects: dict[str, str] = {}
    in_recep: list[tuple[str, str]] = []

    def place(cls: str, allowed: list[str]) -> None:
        if not allowed:
            return
        while True:
            oid = _xyz_id(cls, rng)
            if oid not in used:
                break
        used.add(oid)
        objects[oid] = cls
        in_recep.append((oid, rng.choice(allowed)))

    def holders_for(cls: str, avoid: str = "") -> list[str]:
        return [r for r, c in layout.receps.items() if cls in CAN_CONTAIN.get(c, ()) and c != avoid]

    n_task = rng.randint(2, 3) if task_type == "pick_two_obj_and_place" else rng.randint(1, 3)
    for _ in range(n_task):
        place(obj, holders_for(obj, avoid=recep))
    for cls in objs_here:
        if cls == obj:
            continue
        if rng.random() < 0.55:
            for _ in range(rng.randint(1, 3)):
                place(cls, holders_for(cls))
    if task_type == "look_at_obj_in_light":
        spots = [r for r, c in layout.receps.items() if c in lamp_spots]
        oid = _xyz_id(toggle, rng)
        objects[oid] = toggle
        in_recep.append((oid, rng.choice(spots)))
    if not any(objects[o] == obj for o, _ in in_recep):
        return None

    # ---- facts
    types: dict[str, str] = {"agent1": "agent"}
    for c in sorted({*objects.values(), *(x for v in ROOMS.values() for x in v[2]), *LAMPS_CLASSES}):
        types[f"{c}Type"] = "otype"
    for c in sorted({*CAN_CONTAIN, *rclasses}):
        types[f"{c}Type"] = "rtype"
    for oid in objects:
        types[oid] = "object"
    for rid in layout.receps:
        types[rid] = "receptacle"
    for loc in sorted({*layout.recep_loc.values(), layout.start}):
        types[loc] = "location"
    init: list[tuple[str, ...]] = []
    for rid, c in sorted(layout.receps.items()):
        init.append(("receptacleType", rid, f"{c}Type"))
        init.append(("receptacleAtLocation", rid, layout.recep_loc[rid]))
        if c in OPENABLE:
            init.append(("openable", rid))
    for oid, c in sorted(objects.items()):
        init.append(("objectType", oid, f"{c}Type"))
        if c in (toggle,) or c in LAMPS_CLASSES:
            init.append(("toggleable", oid))
        else:
            init.append(("pickupable", oid))
        for p in PROPS.get(c, ()):
            init.append((p, oid))
    for oid, rid in in_recep:
        init.append(("inReceptacle", oid, rid))
        init.append(("objectAtLocation", oid, layout.recep_loc[rid]))
    for rc in rclasses:
        for oc in CAN_CONTAIN.get(rc, ()):
            init.append(("canContain", f"{rc}Type", f"{oc}Type"))
    init.append(("atLocation", "agent1", layout.start))
    goal = parse_sexpr(_goal_pddl(task_type, obj, recep, toggle))[0]
    text = rng.choice(GOAL_TEMPLATES[task_type]).format(
        obj=obj.lower(), recep=recep.lower(), toggle=toggle.lower()
    )
    problem = Problem(name=f"plan_gen_{task_type}_{obj}_{recep or toggle}", types=types, init=init, goal=goal)
    return Game(
        problem=problem,
        goal_text=text,
        task_type=task_type,
        extra={"object": obj, "receptacle": recep, "toggle": toggle},
    )


LAMPS_CLASSES = ("DeskLamp", "FloorLamp")


def generate_split(split: str, n: int | None = None, seed: int = 0) -> list[Game]:
    """All games of a split (``n`` defaults to the split's size)."""
    return [generate_game(split, i, seed) for i in range(SPLIT_SIZES[split] if n is None else n)]
