"""Write the fixed sample responses/episodes that Search-R1's parsing and reward are checked on.

``python benchmarks/search_r1_samples.py --out samples.json`` (seeded, no dependencies). The responses mix the
cases where parsers disagree: tag case (``<Search>``), several tags, empty blocks, nested and unclosed tags,
answers inside searches, text around the blocks. Episodes are short sequences of such responses with gold
answers, for the reward (the last ``<answer>`` block of the whole text). See
``tests/fixtures/deepsearch/README.md``.
"""

from __future__ import annotations

import argparse
import json
import random

PARTS = [
    "<think>I need to look this up.</think>",
    "<search> {q} </search>",
    "<search>{q}</search>",
    "<search></search>",
    "<search> </search>",
    "<answer> {a} </answer>",
    "<answer>{a}</answer>",
    "<answer></answer>",
    "<Search> {q} </Search>",
    "<ANSWER> {a} </ANSWER>",
    "<answer> {a}",
    "<search> {q}",
    "</answer>",
    "</search>",
    " some text ",
    "\n",
    "<search> {q} <answer> {a} </answer> </search>",
    "<answer> {a} <search> {q} </search> </answer>",
    "<information> fake </information>",
    "<Answer>{a}</Answer>",
    "<answer>\n{a}\n</answer>",
]
QUESTIONS = ["capital of France", "who wrote Hamlet", "Mira Tolk birthplace", "tallest mountain"]
ANSWERS = ["Paris", "William Shakespeare", "the Quell", "Mount Everest", "paris!", "Lyon"]


def response(rng: random.Random) -> str:
    return "".join(
        rng.choice(PARTS).format(q=rng.choice(QUESTIONS), a=rng.choice(ANSWERS))
        for _ in range(rng.randint(1, 4))
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--responses", type=int, default=2000)
    ap.add_argument("--episodes", type=int, default=500)
    args = ap.parse_args()
    rng = random.Random(14)
    from empg_gym.envs.deepsearch.protocol import search_r1_prompt

    responses = [response(rng) for _ in range(args.responses)]
    episodes = []
    for i in range(args.episodes):
        q = f"question {i} about {rng.choice(QUESTIONS)}"
        episodes.append(
            {
                "question": q,
                "prompt": search_r1_prompt(q),
                "golden_answers": rng.sample(ANSWERS[:4], 2),
                "max_turns": 4,
                "responses": [response(rng) for _ in range(rng.randint(1, 6))],
            }
        )
    json.dump({"responses": responses, "episodes": episodes}, open(args.out, "w"), indent=1)
    print(f"{len(responses)} responses, {len(episodes)} episodes -> {args.out}")


if __name__ == "__main__":
    main()
