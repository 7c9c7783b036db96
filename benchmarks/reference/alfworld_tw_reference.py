"""Play command sequences on alfworld's own TextWorld engine, outside the project (reference runner).

Runs in a scratch venv with ``pip install alfworld==0.4.2`` (which pulls textworld[pddl] 1.7.0); it does not
import empg_gym. Each episode loads a ``game.tw-pddl`` the way alfworld's ``AlfredTWEnv`` does
(``textworld.gym.register_game`` with ``EnvInfos(won, admissible_commands, extras=["gamefile"])`` and the
``AlfredDemangler`` + ``AlfredInfos`` wrappers), resets, plays the commands and records, per step, the
observation, the admissible commands, ``won`` and ``done``. Usage::

    python alfworld_tw_reference.py --episodes episodes.json --out reference.json

``episodes.json``: ``[{"game": "<path relative to --root>", "commands": [...]}, ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
from importlib.metadata import version


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", required=True)
    ap.add_argument("--root", required=True, help="the ALFWorld data folder the game paths are relative to")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    out = []
    for ep in json.load(open(args.episodes)):
        path = os.path.join(args.root, ep["game"])
        env_id = textworld.gym.register_game(
            path, infos, max_episode_steps=1000, wrappers=[AlfredDemangler, AlfredInfos]
        )
        env = textworld.gym.make(env_id)
        obs, info = env.reset()
        steps = [
            {
                "command": None,
                "obs": obs,
                "admissible": list(info["admissible_commands"]),
                "won": bool(info["won"]),
                "done": False,
            }
        ]
        for cmd in ep["commands"]:
            obs, score, done, info = env.step(cmd)
            steps.append(
                {
                    "command": cmd,
                    "obs": obs,
                    "admissible": list(info["admissible_commands"]),
                    "won": bool(info["won"]),
                    "done": bool(done),
                }
            )
        env.close()
        out.append({"game": ep["game"], "steps": steps})
    meta = {
        "alfworld": version("alfworld"),
        "textworld": version("textworld"),
        "wrappers": "AlfredDemangler, AlfredInfos",
        "runner": "benchmarks/reference/alfworld_tw_reference.py",
    }
    json.dump({"reference": meta, "episodes": out}, open(args.out, "w"), indent=1)
    print(f"{len(out)} episodes, {sum(len(e['steps']) for e in out)} steps -> {args.out}")


if __name__ == "__main__":
    main()
