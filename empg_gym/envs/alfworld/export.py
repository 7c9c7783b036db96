"""Write games as ALFWorld ``game.tw-pddl`` files that alfworld's TextWorld engine loads and plays.

A ``game.tw-pddl`` is JSON: ``pddl_domain`` (alfworld's ``alfred.pddl``), ``grammar`` (``alfred.twl2`` with
``UNKNOWN GOAL`` replaced by the goal sentence, as ``alfworld-generate`` does), ``pddl_problem``, ``solvable``
and ``walkthrough``. The domain and grammar are read from the installed alfworld package
(``alfworld/data``) or
from ``$ALFWORLD_DATA`` (``alfred.pddl``/``alfred.twl2``, or ``logic/`` as ``alfworld-download`` lays it out).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from empg_gym._io import write_json_atomic
from empg_gym.envs.alfworld.pddl import Game, SExpr

__all__ = ["domain_and_grammar", "export_game", "problem_text", "sexpr_text"]


def _find(name: str, data_dir: str | None) -> str:
    tried = []
    folders = []
    if data_dir:
        folders += [data_dir, os.path.join(data_dir, "logic")]
    env = os.environ.get("ALFWORLD_DATA")
    if env:
        folders += [env, os.path.join(env, "logic")]
    try:
        import importlib.util

        spec = importlib.util.find_spec("alfworld")
        if spec and spec.submodule_search_locations:
            folders += [os.path.join(p, "data") for p in spec.submodule_search_locations]
    except (ImportError, ValueError):
        pass
    for f in folders:
        path = os.path.join(f, name)
        tried.append(path)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f'{name} not found (tried {tried}); install alfworld (pip install "empg-gym[alfworld]") or set '
        "ALFWORLD_DATA to a folder holding alfred.pddl and alfred.twl2"
    )


def domain_and_grammar(data_dir: str | None = None) -> tuple[str, str]:
    """The texts of alfworld's ``alfred.pddl`` and ``alfred.twl2``."""
    with open(_find("alfred.pddl", data_dir), encoding="utf-8") as fh:
        domain = fh.read()
    with open(_find("alfred.twl2", data_dir), encoding="utf-8") as fh:
        grammar = fh.read()
    return domain, grammar


def sexpr_text(f: SExpr) -> str:
    """An s-expression back as PDDL text."""
    if isinstance(f, str):
        return f
    return "(" + " ".join(sexpr_text(g) for g in f) + ")"


def problem_text(game: Game) -> str:
    """The PDDL problem of a game, in ALFWorld's layout."""
    p = game.problem
    lines = [f"(define (problem {p.name})", "(:domain alfred)", "(:objects"]
    lines += [f"        {name} - {typ}" for name, typ in p.types.items()]
    lines += ["        )", "(:init"]
    lines += ["        (" + " ".join(fact) + ")" for fact in p.init]
    lines += ["        )", f"(:goal {sexpr_text(p.goal)})", ")"]
    return "\n".join(lines) + "\n"


def export_game(
    game: Game, path: str | os.PathLike, walkthrough: Sequence[str] | None = None, data_dir: str | None = None
) -> str:
    """Write ``game`` as a ``game.tw-pddl`` at ``path`` (a file, or a folder to hold ``game.tw-pddl``).

    Returns:
        The file written (atomically).
    """
    path = os.fspath(path)
    if os.path.isdir(path) or not path.endswith(".tw-pddl"):
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, "game.tw-pddl")
    domain, grammar = domain_and_grammar(data_dir)
    data = {
        "pddl_domain": domain,
        "grammar": grammar.replace("UNKNOWN GOAL", game.goal_text),
        "pddl_problem": problem_text(game),
        "solvable": True,
        "walkthrough": list(walkthrough if walkthrough is not None else game.walkthrough),
    }
    write_json_atomic(path, data, indent=None)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-gym alfworld-export``: write generated games as ``game.tw-pddl`` files with walkthroughs."""
    import argparse

    from empg_gym.envs.alfworld.env import GameSet
    from empg_gym.envs.alfworld.expert import expert_action, task_params
    from empg_gym.envs.alfworld.world import World

    ap = argparse.ArgumentParser(prog="empg-gym alfworld-export", description=main.__doc__)
    ap.add_argument("out", help="output folder; games go to <out>/<split>/<index>/game.tw-pddl")
    ap.add_argument("--split", default="valid_seen", choices=["train", "valid_seen", "valid_unseen"])
    ap.add_argument("--num-games", type=int, default=None, help="first N games (default: the whole split)")
    ap.add_argument("--seed", type=int, default=0, help="generator seed")
    args = ap.parse_args(argv)
    games = GameSet(args.split, source="generated", seed=args.seed, num_games=args.num_games)
    for i in range(len(games)):
        game = games.game(i)
        w = World(game)
        params = task_params(game.problem.goal)
        walk: list[str] = []
        while not w.won() and len(walk) < 50:
            walk.append(expert_action(w, params))
            w.step(walk[-1])
        export_game(game, os.path.join(args.out, *games.ids[i].split("/")[1:]), walkthrough=walk)
    print(f"wrote {len(games)} games to {os.path.join(args.out, args.split)}")
    return 0
