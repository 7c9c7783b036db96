"""How close are generated ALFWorld training games to the real ones? Layout, object and expert statistics.

    ALFWORLD_DATA=/path/to/alfworld python benchmarks/alfworld_train_stats.py [--generated 474]
        [--max-steps 80]

ALFWorld's 3,553 real train games are not available here, so the benchmark trains on generated games
(``split="train"``). This script compares, game by game, the generated train games with the 474 real games
we have (valid_seen 140, valid_unseen 134, valid_train 200): per split, the mean (and 10th/90th percentile) of

- layout: receptacles per room, distinct receptacle classes, openable receptacles, locations;
- objects: objects placed in the room, their distinct classes, and the declared objects (real games also
  declare one placeholder per ALFRED object class that the room does not hold);
- the first observation's length (characters) and the number of admissible commands at the start;
- the scripted expert's solution length (steps to win, capped at ``--max-steps``; its success rate);
- task types (shares), and the (task type, object class, target receptacle class) combinations of the real
  eval games that also occur among the generated train games (coverage).

Writes ``benchmarks/results/alfworld_train_stats.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

# This folder holds alfworld.py, which would shadow the alfworld package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from empg_gym._io import write_json_atomic  # noqa: E402

OPENABLE = {"cabinet", "drawer", "fridge", "microwave", "safe"}


def game_stats(env, i: int, max_steps: int) -> dict:
    from empg_gym.envs.alfworld.expert import task_params
    from empg_gym.envs.alfworld.world import class_of

    obs, info = env.reset(seed=i, options={"task_index": i})
    u = env.unwrapped
    w = u.world
    p = w.game.problem
    receps = [n for n, t in p.types.items() if t == "receptacle"]
    # objects present in the room: placed in a receptacle or at a location (real games also declare one
    # placeholder object per ALFRED class that is not in the scene)
    placed = {f[1] for f in p.init if f[0].lower() in ("inreceptacle", "objectatlocation")}
    objs = [n for n, t in p.types.items() if t == "object" and n in placed]
    declared = sum(t == "object" for t in p.types.values())
    rcls = {class_of(r).lower() for r in receps}
    ocls = {class_of(o).lower() for o in objs}
    locs = {w.recep_loc[r] for r in receps if r in w.recep_loc}
    tp = task_params(p.goal)
    combo = (u.task_type, tp.obj_type.lower(), (tp.recep_type or tp.toggle_type).lower())
    n_adm0 = len(info["admissible_actions"])
    steps, won = 0, False
    for _ in range(max_steps):
        a = u.expert_action()
        obs2, r, term, trunc, info = env.step(a)
        steps += 1
        if info.get("won"):
            won = True
            break
        if term or trunc:
            break
    return {
        "receptacles": len(receps),
        "receptacle_classes": len(rcls),
        "openable": sum(class_of(r).lower() in OPENABLE for r in receps),
        "locations": len(locs),
        "objects": len(objs),
        "object_classes": len(ocls),
        "declared_objects": declared,
        "obs_chars": len(obs),
        "admissible_0": n_adm0,
        "expert_steps": steps,
        "expert_won": won,
        "task_type": u.task_type,
        "combo": combo,
    }


def summarize(rows: list[dict]) -> dict:
    out: dict = {"games": len(rows)}
    for k in (
        "receptacles",
        "receptacle_classes",
        "openable",
        "locations",
        "objects",
        "object_classes",
        "declared_objects",
        "obs_chars",
        "admissible_0",
    ):
        v = np.array([r[k] for r in rows], dtype=float)
        out[k] = {
            "mean": float(v.mean()),
            "p10": float(np.percentile(v, 10)),
            "p90": float(np.percentile(v, 90)),
        }
    won = [r for r in rows if r["expert_won"]]
    v = np.array([r["expert_steps"] for r in won], dtype=float)
    out["expert_won"] = len(won) / len(rows)
    out["expert_steps"] = (
        {
            "mean": float(v.mean()),
            "p10": float(np.percentile(v, 10)),
            "p90": float(np.percentile(v, 90)),
            "max": float(v.max()),
        }
        if len(v)
        else None
    )
    tt = Counter(r["task_type"] for r in rows)
    out["task_types"] = {k: tt[k] / len(rows) for k in sorted(tt)}
    return out


def main() -> None:
    import gymnasium as gym

    import empg_gym  # noqa: F401

    ap = argparse.ArgumentParser()
    ap.add_argument("--generated", type=int, default=474, help="generated train games to measure")
    ap.add_argument("--max-steps", type=int, default=80)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "alfworld_train_stats.json"))
    args = ap.parse_args()
    data = os.environ.get("ALFWORLD_DATA")
    if not data:
        raise SystemExit("set ALFWORLD_DATA to the real ALFWorld folder (json_2.1.1/...)")
    t0 = time.time()
    sets = {"generated train": ("train", {"source": "generated"}, args.generated)}
    for split, n in (("valid_seen", 140), ("valid_unseen", 134), ("valid_train", 200)):
        sets[f"real {split}"] = (split, {"source": "real", "data_dir": data}, n)
    rows: dict[str, list[dict]] = {}
    for name, (split, kw, n) in sets.items():
        env = gym.make("empg/ALFWorld-v0", split=split, max_episode_steps=args.max_steps + 1, **kw)
        rows[name] = [game_stats(env, i, args.max_steps) for i in range(n)]
        env.close()
        print(f"{name}: {len(rows[name])} games ({time.time() - t0:.0f}s)", flush=True)
    res = {
        "command": f"python benchmarks/alfworld_train_stats.py --generated {args.generated} "
        f"--max-steps {args.max_steps}",
        "sets": {k: summarize(v) for k, v in rows.items()},
    }
    gen_combos = {r["combo"] for r in rows["generated train"]}
    gen_types = {r["combo"][:2] for r in rows["generated train"]}
    for name in ("real valid_seen", "real valid_unseen", "real valid_train"):
        rs = rows[name]
        res["sets"][name]["combos_in_generated_train"] = float(
            np.mean([r["combo"] in gen_combos for r in rs])
        )
        res["sets"][name]["type_object_in_generated_train"] = float(
            np.mean([r["combo"][:2] in gen_types for r in rs])
        )
    res["wall_seconds"] = time.time() - t0
    keys = [
        "receptacles",
        "receptacle_classes",
        "openable",
        "locations",
        "objects",
        "object_classes",
        "obs_chars",
        "admissible_0",
    ]
    print(f"\n{'set':<20}" + "".join(f"{k[:12]:>13}" for k in keys) + f"{'expert len':>12}{'won':>6}")
    for name, s in res["sets"].items():
        e = s["expert_steps"]
        print(
            f"{name:<20}"
            + "".join(f"{s[k]['mean']:>13.1f}" for k in keys)
            + f"{(e['mean'] if e else float('nan')):>12.1f}{s['expert_won']:>6.2f}"
        )
    for name, s in res["sets"].items():
        if "combos_in_generated_train" in s:
            print(
                f"{name}: (type, object, receptacle) seen in generated train: "
                f"{s['combos_in_generated_train']:.2f}; "
                f"(type, object): {s['type_object_in_generated_train']:.2f}"
            )
    print("task types:")
    for name, s in res["sets"].items():
        print(
            f"  {name:<20}"
            + "  ".join(
                f"{k.split('_')[1] if k.count('_') else k}:{v:.2f}" for k, v in s["task_types"].items()
            )
        )
    write_json_atomic(args.out, res, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
