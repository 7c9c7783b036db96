"""Action modes that make small models act validly: few-shot expert examples, constrained choice and decoding.

Agent-spec settings, usable together and with any prompt template:

- ``few_shot: N`` puts ``N`` worked examples in front of every user message. The examples are episodes of the
  env's scripted expert on the env's *training* split (never the evaluated split), played once per process
  and cached: the task, then per step the observation (cut to ``EXAMPLE_OBS_CHARS``) and a response in the
  template's format. The expert gives no reasoning, so the example response's ``<think>`` holds a fixed
  sentence naming the action (``<think>Next I do: X.</think><action>X</action>``); Search-R1 actions are
  already tagged and get the same ``<think>``. Works with every backend (the template changes, nothing
  else); entropies are those of the backend's generation, exactly as without examples.
- ``action_mode: choose`` replaces free generation by a choice among the admissible actions: the prompt
  (chat template applied, ``response_prefix``, then ``<action>``) is scored against every candidate
  continuation ``"{a}</action>"``; the candidate's score is its **mean token log-probability** (length
  normalised, so short actions such as ``look`` do not win by default), or with ``choice_score: sum`` its
  log-probability (the model's own distribution over the admissible actions: a mean over ~6 tokens divides
  the log-odds between two candidates that differ in one token by ~6, so a trained model choosing by the
  mean samples almost uniformly at temperature 1); with ``greedy`` / ``temperature: 0``
  the best candidate is taken, else one is drawn from ``softmax(score / T)`` with the agent's own generator.
  The response is ``<action>{a}</action>`` (format-valid by construction; no reasoning is generated).
  Candidates are scored under the model's own distribution ``softmax(z)`` (the temperature acts on the choice
  only). Recorded per token of the chosen continuation (transformers): ``log softmax(z)[token]`` and the
  full-vocabulary entropy of ``softmax(z)``, i.e. what the trainer's scoring pass (at temperature 1)
  computes over ``prompt_token_ids + token_ids`` (``prompt_token_ids`` includes ``<action>``); vllm records
  the log-probs only (it has no full-vocabulary entropies). EMPG's step entropy is
  therefore the mean token entropy of the chosen action under the unconstrained model: it measures how sure
  the model is of the action it committed to, not the entropy of the choice distribution over candidates.
  When the admissible list holds only placeholders (WebShop's ``search[<your query>]``) the part before
  the slot is forced (``<action>search[``) and the model generates the argument up to the part after it
  (``]``). A Search-R1 prompt (DeepSearch, no admissible list) chooses between the forms
  ``<search> ... </search>`` and ``<answer> ... </answer>`` by the likelier opening tag, then generates the
  content up to the closing tag. Other envs without an admissible list fall back to free generation.
  Backends: ``transformers`` (the prompt is prefilled once, its KV cache is repeated for all candidates)
  and ``vllm`` (``prompt_logprobs`` of each prompt + candidate request). vLLM 0.32 does not read its
  prefix cache for requests that ask for prompt log-probs (and fails when forced to), so the vllm backend
  recomputes the prompt once per candidate: on CPU prefer ``transformers`` for this mode.

- ``action_mode: constrain`` (backend ``vllm``) decodes the response under vLLM structured outputs: the
  prompt ends with the constraint's opening (``<action>`` for ReAct templates) and the response must match
  :func:`action_pattern`, i.e. exactly one admissible action and ``</action>``; a placeholder's argument
  (WebShop's search query) is free text of :data:`SLOT_CHARS` inside the pattern; a Search-R1 prompt must
  produce ``<search> q </search>`` or ``<answer> a </answer>`` (:func:`action_constraint`). Tokens are
  sampled with the spec's ``sampling`` (greedy, or temperature / top-p / top-k) from the model's
  distribution with the disallowed tokens masked out, so the choice is made token by token (unlike
  ``choose``, which compares whole candidates) and the model may spell an action with other token splits than
  its tokenizer's. One prefill per step plus a few decoded tokens; with ``extra.enable_prefix_caching`` the
  prompt head shared by every step (instructions, few-shot examples) is computed once. Recorded:
  ``token_ids`` and vLLM's log-probs, which are those of the **masked** distribution
  ``log softmax(z + mask)[token]`` (vLLM applies the grammar mask before it computes log-probs), at
  temperature 1; no entropies. The trainer's scoring pass recomputes log-probs and full-vocabulary
  entropies of the unconstrained ``softmax(z)`` over ``prompt_token_ids + token_ids``, so, as in ``choose``,
  EMPG's step entropy is the unconstrained model's uncertainty about the action it emitted.

Admissible actions are listed in the prompt by the ReAct templates (``webshop``, ``alfworld``, ``react``)
whenever the env provides them; that is the default, not a separate mode.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from empg_gym.agent import ActionSample
from empg_gym.prompting import PromptTemplate, format_response, get_template
from empg_gym.types import History

if TYPE_CHECKING:
    from empg_gym.policy import AgentSpec

__all__ = ["ACTION_MODES", "EXAMPLE_OBS_CHARS", "SLOT_CHARS", "SLOT_MAX_CHARS", "Constraint", "FewShotTemplate",
           "action_constraint", "action_pattern", "choose_actions", "expert_examples", "split_placeholder",
           "template_for"]

logger = logging.getLogger(__name__)

#: Values of ``AgentSpec.action_mode``.
ACTION_MODES = ("generate", "choose", "constrain")
#: Observations in few-shot examples are cut to this many characters.
EXAMPLE_OBS_CHARS = 400
#: Steps per example episode at most.
EXAMPLE_MAX_STEPS = 12
#: env id prefix -> training splits to draw examples from, in order of preference.
EXAMPLE_SPLITS: dict[str, tuple[str, ...]] = {
    "empg/ALFWorld": ("valid_train", "train"),  # real data ships valid_train; generated games have train
}

_PLACEHOLDER = re.compile(r"<[^<>]* [^<>]*>")  # a slot holds a space: "<your query>", not a tag "<search>"
#: The action forms of a Search-R1 prompt (no admissible list): a query or an answer, each a slot.
SEARCH_R1_FORMS = ("<search> <search query> </search>", "<answer> <short answer> </answer>")
#: What a placeholder's argument may hold in ``action_mode: constrain``: one line, no tag or bracket characters
#: (so it cannot open a tag or close the action early), at most ``SLOT_MAX_CHARS`` characters.
SLOT_CHARS = r"[^\n<>\[\]]"
SLOT_MAX_CHARS = 100
_RX_SPECIAL = frozenset("\\.^$*+?()[]{}|")


def _base_id(env_id: str) -> str:
    return env_id.split(":")[-1].rsplit("-v", 1)[0]


@functools.lru_cache(maxsize=16)
def _examples_cached(env_id: str, n: int, data_key: tuple[str, ...]) -> str:
    import gymnasium as gym

    import empg_gym  # noqa: F401  (registers the envs)
    from empg_gym.policy.simple import ExpertAgent
    from empg_gym.rollout import collect

    del data_key  # part of the cache key only: the env reads its data location from the environment
    last: Exception | None = None
    for split in EXAMPLE_SPLITS.get(_base_id(env_id), ("train",)):
        try:
            trajs = collect(ExpertAgent(), env_id, tasks=n, env_kwargs={"split": split}, seed=12345,
                            max_steps=EXAMPLE_MAX_STEPS * 4, progress=False)
            break
        except (ValueError, KeyError, FileNotFoundError, gym.error.Error) as e:
            last = e
    else:
        raise ValueError(f"few_shot: cannot play the expert of {env_id} on a training split: {last}")
    blocks = []
    for i, t in enumerate(trajs):
        lines = [f"Example {i + 1}. Task: {t.task}"]
        for j, turn in enumerate(t.turns[:EXAMPLE_MAX_STEPS]):
            obs = " ".join(turn.observation.split())
            if len(obs) > EXAMPLE_OBS_CHARS:
                obs = obs[:EXAMPLE_OBS_CHARS] + " ..."
            response = format_response(turn.action, f"Next I do: {turn.action}.", sep=" ")
            lines.append(f"Observation {j + 1}: {obs}\nResponse {j + 1}: {response}")
        if len(t.turns) > EXAMPLE_MAX_STEPS:
            lines.append(f"(... {len(t.turns) - EXAMPLE_MAX_STEPS} more steps)")
        lines.append("Outcome: " + ("success" if t.won else "not solved"))
        blocks.append("\n".join(lines))
    return ("Here are worked examples of the task format (from other tasks):\n\n" + "\n\n".join(blocks)
            + "\n\nNow your own task.")


def expert_examples(env_id: str, n: int) -> str:
    """A text block of ``n`` expert episodes of ``env_id`` on its training split (cached per process).

    Args:
        env_id: Gymnasium ID; the env's data comes from its usual environment variables
            (``$WEBSHOP_DATA``, ``$ALFWORLD_DATA``, ...), as for the evaluated env.
        n: Number of example episodes (>= 1).

    Raises:
        ValueError: The env has no training split the expert can play.
    """
    if n < 1:
        raise ValueError(f"few_shot must be >= 1 here, got {n}")
    keys = tuple(f"{k}={os.environ.get(k, '')}" for k in sorted(os.environ) if k.endswith("_DATA"))
    return _examples_cached(env_id, int(n), keys)


@dataclass(frozen=True)
class FewShotTemplate(PromptTemplate):
    """A template with an examples block before the user message; parsing and stops are the base's.

    Attributes:
        base: The wrapped template.
        examples: The examples text (:func:`expert_examples`).
    """

    base: PromptTemplate | None = None
    examples: str = ""

    def user_message(self, history: History, history_length: int) -> str:
        """The examples, then the base template's user message."""
        assert self.base is not None
        return f"{self.examples}\n\n{self.base.user_message(history, history_length)}"

    def parse(self, text: str, history: History | None = None) -> Any:
        """The base template's projection."""
        assert self.base is not None
        return self.base.parse(text, history)


def template_for(spec: AgentSpec, env_id: str) -> PromptTemplate:
    """The prompt template an agent built from ``spec`` uses for ``env_id`` (few-shot examples applied)."""
    base = get_template(spec.prompt, env_id)
    n = int(getattr(spec, "few_shot", 0) or 0)
    if n <= 0:
        return base
    return FewShotTemplate(name=f"{base.name}+few_shot{n}", system=base.system, stop=base.stop,
                           max_history_chars=base.max_history_chars, base=base,
                           examples=expert_examples(env_id, n))


def split_placeholder(action: str) -> tuple[str, str] | None:
    """``("search[", "]")`` for ``"search[<your query>]"``; None when ``action`` has no ``<...>`` slot.

    >>> split_placeholder("search[<your query>]"), split_placeholder("click[buy now]")
    (('search[', ']'), None)
    """
    m = _PLACEHOLDER.search(action)
    if m is None:
        return None
    return action[:m.start()], action[m.end():]


def _rx_escape(text: str) -> str:
    """Escape regex metacharacters only.

    ``re.escape`` also escapes spaces, ``#``, ``-``, ``&`` and ``~``, which some structured-output backends'
    regex dialects reject.
    """
    return "".join("\\" + c if c in _RX_SPECIAL else c for c in text)


def action_pattern(actions: Sequence[str], closing: str = "") -> str:
    """A regular expression matching exactly one of ``actions`` followed by ``closing``.

    An action with a placeholder slot (:func:`split_placeholder`) matches its fixed parts around any argument
    of 1 to :data:`SLOT_MAX_CHARS` characters of :data:`SLOT_CHARS`. The dialect is the common subset of
    Python's ``re`` and the structured-output backends' (xgrammar, guidance).

    >>> import re
    >>> p = action_pattern(["look", "search[<your query>]"], "</action>")
    >>> bool(re.fullmatch(p, "search[red shirt]</action>")), bool(re.fullmatch(p, "look]</action>"))
    (True, False)
    """
    alts = []
    for a in dict.fromkeys(actions):
        sp = split_placeholder(a)
        if sp is None:
            alts.append(_rx_escape(a))
        else:
            alts.append(f"{_rx_escape(sp[0])}{SLOT_CHARS}{{1,{SLOT_MAX_CHARS}}}{_rx_escape(sp[1])}")
    if not alts:
        raise ValueError("action_pattern: no actions to constrain to")
    return "(" + "|".join(alts) + ")" + _rx_escape(closing)


@dataclass(frozen=True)
class Constraint:
    """What ``action_mode: constrain`` decodes for one history.

    Attributes:
        opening: Text appended to the prompt before decoding (``<action>`` for ReAct templates, else "").
        pattern: The regex the response must match in full (:func:`action_pattern`).
    """

    opening: str
    pattern: str

    def project(self, template: PromptTemplate, text: str, history: History) -> ActionSample:
        """The sample's action and format verdict for a constrained ``text`` (token fields left empty).

        The action is the template's own projection of ``opening + text`` (so it is normalised exactly as in
        free generation); the response is format-valid when it matches the pattern in full (it can only fail
        to when decoding stopped at ``max_new_tokens``).
        """
        base = getattr(template, "base", None) or template
        ok = re.fullmatch(self.pattern, text) is not None
        action = base.parse(self.opening + text, history).action if ok else ""
        return ActionSample(text=text, action=action, format_valid=ok,
                            format_error="" if ok else "constrained response cut at max_new_tokens")


def action_constraint(template: PromptTemplate, history: History) -> Constraint | None:
    """The constraint of ``action_mode: constrain`` for ``history``, or None (free generation).

    Search-R1 templates: one of the forms of :data:`SEARCH_R1_FORMS`, i.e. ``<search> q </search>`` or
    ``<answer> a </answer>`` with any content (the action space is open text: an env's admissible list, such
    as DeepSearch's suggested searches and answers, holds examples of these forms, not all of them). Other
    templates: one of ``history.admissible_actions`` inside ``<action>...</action>`` (the prompt ends with
    ``<action>``, the pattern with ``</action>``), or None (free generation) without an admissible list.
    """
    from empg_gym.prompting import SearchR1Template

    base = getattr(template, "base", None) or template
    if isinstance(base, SearchR1Template):
        return Constraint("", action_pattern(SEARCH_R1_FORMS))
    if history.admissible_actions:
        return Constraint("<action>", action_pattern(history.admissible_actions, "</action>"))
    return None


#: (prompt ids, candidate continuations' ids) -> per candidate (token log-probs, token entropies).
Scorer = Callable[[Sequence[int], Sequence[Sequence[int]]], list[tuple[list[float], list[float]]]]
#: (prompt ids per history, stop string) -> generated token ids per history.
Generator = Callable[[Sequence[Sequence[int]], str], list[list[int]]]


def choose_actions(
    histories: Sequence[History],
    *,
    tokenizer: Any,
    prompt_for: Callable[[History], tuple[str, list[int]]],
    template_for_history: Callable[[History], PromptTemplate],
    score: Scorer,
    generate_free: Callable[[Sequence[History]], list[ActionSample]],
    generate_slot: Generator,
    temperature: float,
    greedy: bool,
    rng: Any,
    choice_score: str = "mean",
) -> list[ActionSample]:
    """The ``choose`` action mode over any backend (see the module docstring).

    Args:
        histories: The batch.
        tokenizer: The backend's tokenizer.
        prompt_for: History -> (prompt text with chat template and response prefix, its token ids).
        template_for_history: History -> its prompt template (ReAct: actions inside ``<action>`` tags;
            Search-R1: the tags are the actions, and the forms of :data:`SEARCH_R1_FORMS` are chosen from).
        score: Token log-probs and entropies of candidate continuations after a prompt.
        generate_free: The backend's ordinary generation (histories without admissible actions).
        generate_slot: Generation of a placeholder's argument up to a stop string.
        temperature: Softmax temperature of the choice.
        greedy: Take the best candidate.
        rng: A ``numpy.random.Generator`` for the draw.
        choice_score: ``"mean"`` (mean token log-probability of a candidate) or ``"sum"`` (its
            log-probability).

    Returns:
        One sample per history.
    """
    import numpy as np

    from empg_gym.prompting import SearchR1Template

    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    reduce = np.sum if choice_score == "sum" else np.mean

    def pick(s: Any) -> int:
        if greedy or temperature <= 0:
            return int(np.argmax(s))
        z = (s - s.max()) / temperature
        return int(rng.choice(len(s), p=np.exp(z) / np.exp(z).sum()))

    out: list[ActionSample | None] = [None] * len(histories)
    free: list[int] = []
    # (history index, prompt text, wrapper opening, slot head, slot tail, prompt ids)
    slot_jobs: list[tuple[int, str, str, str, str, list[int]]] = []
    for i, h in enumerate(histories):
        t = template_for_history(h)
        base = getattr(t, "base", None) or t
        search_r1 = isinstance(base, SearchR1Template)
        actions = tuple(h.admissible_actions or ()) or (SEARCH_R1_FORMS if search_r1 else ())
        if not actions:
            free.append(i)
            continue
        opening, closing = ("", "") if search_r1 else ("<action>", "</action>")
        ptext, pids = prompt_for(h)
        ptext += opening
        pids = pids + ids(opening)
        cands = [a for a in actions if split_placeholder(a) is None]
        if not cands:
            slots = [split_placeholder(a) or ("", "") for a in actions]
            k = 0
            if len(slots) > 1:  # which form (e.g. search or answer): the likelier head
                sc = score(pids, [ids(hd) for hd, _ in slots])
                k = pick(np.array([float(reduce(lp)) if lp else -np.inf for lp, _ in sc]))
            head, tail = slots[k]
            slot_jobs.append((i, ptext + head, opening, head, tail.strip() or closing, pids + ids(head)))
            continue
        cont_ids = [ids(f"{a}{closing}") for a in cands]
        scored = score(pids, cont_ids)
        k = pick(np.array([float(reduce(lp)) if lp else -np.inf for lp, _ in scored]))
        lp, ent = scored[k]
        out[i] = ActionSample(text=f"{opening}{cands[k]}{closing}", action=cands[k], format_valid=True,
                              prompt=ptext, prompt_token_ids=tuple(pids), token_ids=tuple(cont_ids[k]),
                              logprobs=tuple(lp), entropies=tuple(ent))
    by_stop: dict[str, list[tuple[int, str, str, str, str, list[int]]]] = {}
    for job in slot_jobs:
        by_stop.setdefault(job[4], []).append(job)
    for stop, jobs in by_stop.items():
        gen = generate_slot([j[5] for j in jobs], stop)
        for (i, ptext, opening, head, _stop, pids), toks in zip(jobs, gen, strict=True):
            text = tokenizer.decode(toks, skip_special_tokens=True)
            arg = " ".join(text.split(stop, 1)[0].split())
            if opening:  # ReAct: the env action inside <action>, lower-cased as the template does
                action = (f"{head}{arg}{stop}" if stop != "</action>" else f"{head}{arg}").lower()
            else:  # Search-R1: the tagged action itself
                action = f"{head.strip()} {arg} {stop}"
            out[i] = ActionSample(text=f"{opening}{head}{text}", action=action, format_valid=bool(arg),
                                  prompt=ptext, prompt_token_ids=tuple(pids), token_ids=tuple(toks))
    if free:
        for i, smp in zip(free, generate_free([histories[i] for i in free]), strict=True):
            out[i] = smp
    return [o for o in out if o is not None]
