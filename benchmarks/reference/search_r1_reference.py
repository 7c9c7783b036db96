"""Run Search-R1's own parsing and reward code on fixed sample responses, outside the project (reference
runner).

Needs a copy of PeterGriffinJin/Search-R1 (commit a14dc3a) with
``search_r1/llm_agent/{generation,tensor_helper}.py``
and ``verl/utils/reward_score/qa_em.py``; it does not import empg_gym, and runs in any Python 3 (the heavy
imports of ``generation.py`` (torch, verl, requests) are replaced by empty stand-in modules: the functions
used
here do not touch them). Functions called, unmodified:

- ``LLMGenerationManager._postprocess_responses`` (the cut after the first ``</search>``/``</answer>``) with
  a
  tokenizer stand-in whose ``batch_decode`` returns the strings and a ``_batch_tokenize`` that returns them;
- ``LLMGenerationManager.postprocess_predictions`` (the action: kind and content, or None = invalid);
- ``qa_em.extract_solution`` and ``qa_em.em_check`` on a whole episode's text, built as Search-R1's loop
  builds
  it: the prompt (``nq_search.py``'s ``make_prefix``, template ``base``), then per turn the cut response and
  the observation ``execute_predictions`` appends (``\\n\\n<information>RESULTS</information>\\n\\n`` after
  a
  search, with RESULTS a tag-free placeholder; the invalid-action message after an invalid one; nothing
  after an
  answer, which ends the episode), for at most ``max_turns`` searching turns plus one final turn.

Usage: ``python search_r1_reference.py --search-r1 COPY --samples samples.json --out reference.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types


class _Stub(types.ModuleType):
    def __getattr__(self, name):  # any attribute: a dummy type (used in annotations only)
        return type(name, (), {})


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--search-r1", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    for name in ("torch", "verl", "verl.utils", "verl.utils.tracking", "requests"):
        sys.modules[name] = _Stub(name)
    sys.path.insert(0, args.search_r1)
    from search_r1.llm_agent.generation import LLMGenerationManager

    qa_em = _load(f"{args.search_r1}/verl/utils/reward_score/qa_em.py", "qa_em")

    class Fake:
        class tokenizer:  # noqa: N801
            @staticmethod
            def batch_decode(x, skip_special_tokens=True):
                return list(x)

        class config:  # noqa: N801
            no_think_rl = False

        @staticmethod
        def _batch_tokenize(x):
            return x

    invalid = (
        "\nMy previous action is invalid. If I want to search, I should put the query between <search> and "
        "</search>. If I want to give the final answer, I should put the answer between <answer> and "
        "</answer>. Let me try again.\n"
    )
    samples = json.load(open(args.samples))
    singles = []
    _, cut = LLMGenerationManager._postprocess_responses(Fake, samples["responses"])
    actions, contents = LLMGenerationManager.postprocess_predictions(None, cut)
    for c, a, x in zip(cut, actions, contents, strict=True):
        singles.append({"cut": c, "action": a, "content": x})
    episodes = []
    for ep in samples["episodes"]:
        text = ep["prompt"]
        steps = []
        for turn, response in enumerate(ep["responses"]):
            _, (c,) = LLMGenerationManager._postprocess_responses(Fake, [response])
            (a,), (x,) = LLMGenerationManager.postprocess_predictions(None, [c])
            text += c
            steps.append({"cut": c, "action": a, "content": x})
            if a == "answer":
                break
            text += "\n\n<information>RESULTS</information>\n\n" if a == "search" else invalid
            if turn >= ep["max_turns"]:
                break
        answer = qa_em.extract_solution(text)
        em = 0 if answer is None else int(qa_em.em_check(answer, ep["golden_answers"]))
        episodes.append({"steps": steps, "extracted_answer": answer, "em": em})
    ref = {
        "repo": "PeterGriffinJin/Search-R1",
        "commit": "a14dc3a",
        "functions": [
            "search_r1/llm_agent/generation.py: LLMGenerationManager._postprocess_responses, "
            "postprocess_predictions",
            "verl/utils/reward_score/qa_em.py: extract_solution, em_check",
        ],
        "runner": "benchmarks/reference/search_r1_reference.py",
    }
    json.dump({"reference": ref, "responses": singles, "episodes": episodes}, open(args.out, "w"), indent=1)
    print(f"{len(singles)} responses, {len(episodes)} episodes -> {args.out}")


if __name__ == "__main__":
    main()
