"""Fidelity of the ALFWorld simulator against alfworld's TextWorld engine, step by step.

    python benchmarks/alfworld_fidelity.py [--generated 60] [--real 274] [--real-stride 1] [--random-frac 0.3]

For each game, both engines play the same commands: mostly the expert's next command, with probability
``--random-frac`` a random admissible command, and now and then an inadmissible one (to compare "Nothing
happens."). At every step (and at the start) it compares the observation and the admissible-command list,
and the ``won`` flag. Real games come from ``$ALFWORLD_DATA`` (``valid_seen`` + ``valid_unseen``); generated
games are exported with :mod:`empg_gym.envs.alfworld.export`. Needs the ``alfworld`` extra.

Prints a table and writes ``benchmarks/results/alfworld_fidelity.json`` (with the first mismatches).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

# This folder holds alfworld.py, which would shadow the alfworld package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from empg_gym._io import write_json_atomic  # noqa: E402
from empg_gym.envs.alfworld.env import GameSet  # noqa: E402
from empg_gym.envs.alfworld.expert import expert_action, task_params  # noqa: E402
from empg_gym.envs.alfworld.pddl import load_game  # noqa: E402
from empg_gym.envs.alfworld.tw import TWGame, exported_game_file  # noqa: E402
from empg_gym.envs.alfworld.world import NOTHING_HAPPENS, World  # noqa: E402

BAD_COMMANDS = ["jump", "go to the moon", "take everything", "open", "put it down"]


def compare_game(gamefile: str, game, rng: random.Random, random_frac: float, max_steps: int = 50) -> dict:
    """Play one game in both engines; returns counts and the mismatches."""
    ours = World(game)
    params = task_params(game.problem.goal)
    tw = TWGame(gamefile)
    t_obs, t_adm, t_won = tw.reset()
    o_obs, o_adm = ours.intro(), ours.admissible()
    steps, same, mism = 0, 0, []

    def check(cmd: str | None, o_obs, o_adm, o_won, t_obs, t_adm, t_won) -> None:
        nonlocal steps, same
        steps += 1
        ok = o_obs == t_obs and o_adm == t_adm and o_won == t_won
        same += ok
        if not ok and len(mism) < 5:
            mism.append(
                {
                    "step": steps - 1,
                    "command": cmd,
                    "ours": o_obs,
                    "textworld": t_obs,
                    "adm_only_ours": sorted(set(o_adm) - set(t_adm)),
                    "adm_only_textworld": sorted(set(t_adm) - set(o_adm)),
                    "won": [o_won, t_won],
                }
            )

    check(None, o_obs, o_adm, False, t_obs, t_adm, t_won)
    won = False
    for _ in range(max_steps):
        r = rng.random()
        if r < 0.05:
            cmd = rng.choice(BAD_COMMANDS)
        elif r < 0.05 + random_frac:
            cmd = rng.choice(o_adm)
        else:
            try:
                cmd = expert_action(ours, params)
            except RuntimeError:
                cmd = rng.choice(o_adm)
        o_obs, _ = ours.step(cmd)
        o_adm, o_won = ours.admissible(), ours.won()
        t_obs, t_adm, t_won = tw.step(cmd)
        check(cmd, o_obs, o_adm, o_won, t_obs, t_adm, t_won)
        if o_won or t_won:
            won = o_won and t_won
            break
    tw.close()
    return {
        "gamefile": gamefile,
        "task_type": game.task_type,
        "steps": steps,
        "identical": same,
        "won": won,
        "mismatches": mism,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--generated", type=int, default=60, help="generated games (valid_seen then valid_unseen)"
    )
    ap.add_argument("--real", type=int, default=274, help="real eval games (needs ALFWORLD_DATA)")
    ap.add_argument("--real-stride", type=int, default=1, help="every k-th real game")
    ap.add_argument("--random-frac", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "alfworld_fidelity.json"))
    argv = list(sys.argv[1:] if argv is None else argv)  # before textworld loads (it rewrites sys.argv)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    jobs: list[tuple[str, str, object]] = []
    if args.generated:
        root = tempfile.mkdtemp(prefix="alfworld_export_")
        per = {"valid_seen": (args.generated + 1) // 2, "valid_unseen": args.generated // 2}
        for split, n in per.items():
            gs = GameSet(split, source="generated", num_games=n)
            for i in range(len(gs)):
                jobs.append(("generated", exported_game_file(gs, i, root), gs.game(i)))
    data = os.environ.get("ALFWORLD_DATA")
    if args.real and data:
        files = []
        for split in ("valid_seen", "valid_unseen"):
            files += GameSet(split, data_dir=data, source="real").files
        for f in files[:: args.real_stride][: args.real]:
            jobs.append(("real", f, None))
    elif args.real:
        print("ALFWORLD_DATA is not set: skipping real games", file=sys.stderr)
    results = {"generated": [], "real": []}
    t0 = time.time()
    for k, (kind, f, game) in enumerate(jobs):
        g = game if game is not None else load_game(f)
        results[kind].append(compare_game(f, g, rng, args.random_frac))
        if (k + 1) % 10 == 0 or k + 1 == len(jobs):
            done = [r for v in results.values() for r in v]
            rate = sum(r["identical"] for r in done) / max(1, sum(r["steps"] for r in done))
            print(
                f"[{k + 1}/{len(jobs)}] {time.time() - t0:.0f}s, identical steps so far {rate:.4f}",
                flush=True,
            )
    summary = {}
    print(f"{'games':<10} {'n':>5} {'steps':>7} {'identical':>10} {'rate':>8} {'games all ok':>13}")
    for kind, rs in results.items():
        if not rs:
            continue
        steps = sum(r["steps"] for r in rs)
        same = sum(r["identical"] for r in rs)
        allok = sum(r["identical"] == r["steps"] for r in rs)
        by_type: dict[str, list[int]] = {}
        for r in rs:
            a = by_type.setdefault(r["task_type"], [0, 0])
            a[0] += r["identical"]
            a[1] += r["steps"]
        summary[kind] = {
            "games": len(rs),
            "steps": steps,
            "identical": same,
            "rate": same / steps,
            "games_fully_identical": allok,
            "rate_by_type": {t: v[0] / v[1] for t, v in sorted(by_type.items())},
        }
        print(f"{kind:<10} {len(rs):>5} {steps:>7} {same:>10} {same / steps:>8.4f} {allok:>13}")
    out = {
        "command": "python benchmarks/alfworld_fidelity.py "
        + " ".join(argv),
        "machine": platform.platform(),
        "random_frac": args.random_frac,
        "seed": args.seed,
        "nothing_happens": NOTHING_HAPPENS,
        "summary": summary,
        "mismatches": [
            m | {"gamefile": r["gamefile"]} for v in results.values() for r in v for m in r["mismatches"]
        ][:200],
    }
    write_json_atomic(args.out, out, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
