"""How far does searching the instruction get on WebShop? A ceiling for a policy that copies the instruction.

    WEBSHOP_DATA=/path/to/webshop python benchmarks/webshop_first_result.py [--goals 100] [--split test]

For each of the first ``--goals`` goals of a split (the real 1k catalog with ``$WEBSHOP_DATA``):

- the rank of the goal's product among the results of the instruction (without its price clause) as a search;
- the reward of a scripted policy that searches the instruction, opens the *first* result, selects the options
  the expert would select if that result is the goal's product (else none), and buys;
- the expert's (which pages to the goal's product and falls back to a search for its title) success and steps.

A clone that learns to copy the instruction into its search, open the top result and pick the options the
instruction names cannot do better than the scripted policy; the expert is the env's ceiling. Writes
``benchmarks/results/webshop_first_result.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gymnasium as gym

import empg_gym  # noqa: F401  (registers the envs)
from empg_gym._io import write_json_atomic
from empg_gym.envs.webshop.expert import instruction_query


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--goals", type=int, default=100)
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "webshop_first_result.json"))
    args = ap.parse_args()
    env = gym.make("empg/WebShop-v0", split=args.split).unwrapped
    t0 = time.perf_counter()
    top1 = top10 = found = first_wins = expert_wins = expert_steps = 0
    first_reward = 0.0
    for i in range(args.goals):
        env.reset(seed=0, options={"task_index": i})
        target, query = env.goal["asin"], instruction_query(env.goal)
        ranked = env.search(query)
        rank = ranked.index(target) if target in ranked else -1
        top1, top10, found = top1 + (rank == 0), top10 + (0 <= rank < 10), found + (rank >= 0)
        env.step(f"search[{query}]")
        _, r, done, _, _ = env.step(f"click[{env.state.results[0].lower()}]")
        for _ in range(10):  # the expert's option clicks on the goal's product, else buy at once
            if done:
                break
            a = env.expert_action() if env.state.asin == target else "click[buy now]"
            _, r, done, _, _ = env.step(a)
        first_wins, first_reward = first_wins + (r == 1.0), first_reward + r
        env.reset(seed=0, options={"task_index": i})
        done, k = False, 0
        while not done and k < 15:
            _, r, done, _, _ = env.step(env.expert_action())
            k += 1
        expert_wins, expert_steps = expert_wins + (r == 1.0), expert_steps + k
    n = args.goals
    res = {
        "split": args.split,
        "goals": n,
        "catalog": env.catalog.source,  # "real" with $WEBSHOP_DATA, else "generated"
        "instruction_search_rank1": top1 / n,
        "instruction_search_top10": top10 / n,
        "instruction_search_top50": found / n,
        "first_result_success": first_wins / n,
        "first_result_mean_reward": first_reward / n,
        "expert_success": expert_wins / n,
        "expert_steps": expert_steps / n,
        "seconds": time.perf_counter() - t0,
    }
    print("| goals | target ranked 1st | in top 10 | in top 50 | first result: success | mean reward "
          "| expert: success | steps |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {n} ({args.split}) | {top1 / n:.2f} | {top10 / n:.2f} | {found / n:.2f} | {first_wins / n:.2f} | "
          f"{first_reward / n:.3f} | {expert_wins / n:.2f} | {expert_steps / n:.1f} |")
    write_json_atomic(args.out, res, indent=1)


if __name__ == "__main__":
    main()
