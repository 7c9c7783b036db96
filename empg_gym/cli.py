"""Command-line entry points.

``empg-gym <command>`` dispatches to a subcommand; each subcommand's module is imported only when it
runs, so ``empg-gym envs`` never imports torch. The standalone scripts (``empg-play``, and those later
issues add, e.g. ``empg-eval``) call the same functions.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand -> ("module:function", one-line help). Each function takes ``argv`` and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "envs": ("empg_gym.cli:envs_main", "list registered envs and whether their data is available"),
    "play": ("empg_gym.cli:play_main", "play an env in the terminal (or watch its expert)"),
    "advantages": ("empg_gym.advantages.cli:main", "list the advantage estimators and their hyperparameters"),
    "demo": ("empg_gym.policy.demo:main", "watch an agent (default: SmolLM2-135M, offline) play an env"),
    "serve": ("empg_gym.serve:main", "run a server: serve retrieval --corpus <jsonl> (Search-R1 /retrieve)"),
    "train": ("empg_gym.trainers.cli:main", "train a policy: --config baselines/<file>.yaml [--field value]"),
    "train-plot": ("empg_gym.trainers.cli:plot_main", "plot training curves of runs (metrics.jsonl)"),
    "eval": ("empg_gym.eval.harness:main", "evaluate an agent on an env's task list -> runs/eval/ entry"),
    "leaderboard": (
        "empg_gym.eval.leaderboard:main",
        "add | build | validate | compare | migrate | serve | show the leaderboard",
    ),
    "alfworld-export": (
        "empg_gym.envs.alfworld.export:main",
        "write generated ALFWorld games as game.tw-pddl",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-gym``: dispatch to a subcommand."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: empg-gym <command> [args]\n\ncommands:")
        for name, (_, help_) in COMMANDS.items():
            print(f"  {name:<17}{help_}")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from empg_gym import __version__

        print(f"empg-gym {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"empg-gym: unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    mod, fn = COMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(mod), fn)(rest) or 0)


def _entry(fn_name: str) -> int:
    return int(globals()[fn_name](sys.argv[1:]) or 0)


# ---------------------------------------------------------------------------------------------- envs
def envs_main(argv: Sequence[str] | None = None) -> int:
    """``empg-gym envs``: registered envs, their episode limits and data status."""
    p = argparse.ArgumentParser(prog="empg-gym envs", description=envs_main.__doc__)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    import gymnasium as gym

    from empg_gym.envs import DATA_STATUS

    rows = []
    for env_id, status in DATA_STATUS.items():
        spec = gym.spec(env_id)
        try:
            s = status()
        except Exception as e:  # a status probe must never break the listing
            s = f"error: {e}"
        rows.append(
            {
                "id": env_id,
                "entry_point": str(spec.entry_point),
                "max_episode_steps": spec.max_episode_steps,
                "data": s,
            }
        )
    if args.json:
        import json

        print(json.dumps(rows, indent=2))
        return 0
    from empg_gym._table import print_table

    print_table("empg-gym environments", ("id", "max steps", "data"),
                [(r["id"], r["max_episode_steps"], r["data"]) for r in rows])
    return 0


# ---------------------------------------------------------------------------------------------- play
def play_main(argv: Sequence[str] | None = None) -> int:
    """``empg-play ENV_ID``: play an env in the terminal, or watch its scripted expert with --expert."""
    if argv is None:
        argv = sys.argv[1:]
    p = argparse.ArgumentParser(prog="empg-play", description=play_main.__doc__)
    p.add_argument("env_id", help="e.g. empg/KeyDoor-v0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--task-index", type=int, default=None, help="play this task of the split")
    p.add_argument("--expert", action="store_true", help="let the scripted expert play")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument(
        "--kwargs", default="{}", help='env constructor kwargs as JSON, e.g. \'{"split": "test"}\''
    )
    p.add_argument("--agent", default=None, help="let an agent play (spec name, YAML file or checkpoint)")
    p.add_argument("--max-steps", type=int, default=None, help="episode step limit (with --agent)")
    args = p.parse_args(argv)
    import json

    import gymnasium as gym

    if args.agent:
        from empg_gym.policy.demo import play_agent

        return play_agent(
            args.env_id,
            args.agent,
            seed=args.seed,
            task_index=args.task_index,
            episodes=args.episodes,
            max_steps=args.max_steps,
            env_kwargs=json.loads(args.kwargs),
        )

    import empg_gym  # noqa: F401  (registers the envs)
    from empg_gym.wrappers import ExpertInfo

    try:
        kwargs = json.loads(args.kwargs)
        env = ExpertInfo(gym.make(args.env_id, **kwargs))
    except (gym.error.Error, ValueError, FileNotFoundError, TypeError) as e:
        print(f"empg-play: cannot make {args.env_id}: {e}", file=sys.stderr)
        return 2
    wins = 0
    for ep in range(args.episodes):
        options = {} if args.task_index is None else {"task_index": args.task_index + ep}
        obs, info = env.reset(seed=args.seed + ep, options=options)
        print(f"\n=== episode {ep + 1} | task {info['task_id']} ===\n{obs}")
        terminated = truncated = False
        total = 0.0
        while not (terminated or truncated):
            adm = info.get("admissible_actions")
            if adm is not None:
                print("\nadmissible: " + " | ".join(adm))
            if args.expert:
                action = info.get("expert_action")
                if action is None:
                    print("empg-play: this env has no scripted expert", file=sys.stderr)
                    return 2
                print(f"> {action}")
            else:
                try:
                    action = input("> ")
                except EOFError:
                    print()
                    return 0
                if action.strip() in (":q", ":quit"):
                    return 0
            obs, reward, terminated, truncated, info = env.step(action)
            total += reward
            print(obs + (f"\n[reward {reward:g}]" if reward else ""))
        wins += bool(info["won"])
        end = "terminated" if terminated else "truncated"
        print(f"=== {end}: return {total:g}, won {info['won']}, score {info['score']:.3f} ===")
    if args.episodes > 1:
        print(f"won {wins}/{args.episodes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
