"""The prompt templates: ReAct (``<think>``/``<action>``) and Search-R1 (``<search>``/``<answer>``).

Both follow the published prompts in form (verl-agent's ReAct prompts for WebShop and ALFWorld, which EMPG
uses; Search-R1's instruction for search agents) in our own wording, with these choices:

- History: the last ``history_length`` turns as ``[Observation k: '...', Action k: '...']`` lines (ReAct) or
  ``Step k: <action>`` followed by what came back (Search-R1). Older turns are dropped; if the history block
  is longer than ``max_history_chars`` it is dropped entirely (verl-agent falls back the same way).
- Projection (ReAct): the text inside the single ``<action>...</action>`` block, whitespace-collapsed and
  lowercased. ``format_valid`` is False when there is no such block or more than one, when
  ``<think>...</think>`` is missing (if ``require_think``), or when the response holds CJK characters
  (verl-agent's rules). The action is still extracted when it can be (a missing ``<think>`` is a format
  error, not a lost action); when no action can be extracted it is ``""`` (the env reports an invalid action).
- Projection (Search-R1): the text is cut after the first ``</search>`` (else the first ``</answer>``), the
  first ``<search>``/``<answer>`` block is the action, rendered back as ``<search> q </search>`` /
  ``<answer> a </answer>``; it is format-invalid when there is no such block, when it is empty, or when the
  cut response opens more than one search/answer tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from empg_gym.envs.deepsearch.protocol import SEARCH_R1_INSTRUCTION, cut_response, parse_action
from empg_gym.types import History

__all__ = ["Projection", "PromptTemplate", "ReActTemplate", "SearchR1Template", "has_cjk"]

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_ACTION = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_SEARCH_OR_ANSWER = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_OPEN_TAG = re.compile(r"<(search|answer)>", re.IGNORECASE)


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Chinese, Japanese or Korean characters.

    >>> has_cjk("hello"), has_cjk("你好")
    (False, True)
    """
    return _CJK.search(text) is not None


@dataclass(frozen=True, slots=True)
class Projection:
    """A raw response projected to an env action.

    Attributes:
        action: The env action ("" when none could be parsed).
        format_valid: Whether the response followed the template's format.
        error: Why the format is invalid ("" when valid).
    """

    action: str
    format_valid: bool
    error: str = ""


@dataclass(frozen=True)
class PromptTemplate:
    """Base class: history -> chat messages; raw text -> :class:`Projection`.

    Attributes:
        name: Template name.
        system: An optional system message.
        stop: Stop strings that end a response (kept in the response).
        max_history_chars: Drop the history block when it is longer than this.
    """

    name: str
    system: str | None = None
    stop: tuple[str, ...] = ()
    max_history_chars: int = 13000

    def user_message(self, history: History, history_length: int) -> str:
        """The user turn's text."""
        raise NotImplementedError

    def messages(self, history: History, history_length: int = 2) -> list[dict[str, str]]:
        """Chat messages for the tokenizer's chat template (or an OpenAI-compatible endpoint)."""
        msgs = [] if self.system is None else [{"role": "system", "content": self.system}]
        msgs.append({"role": "user", "content": self.user_message(history, history_length)})
        return msgs

    def parse(self, text: str, history: History | None = None) -> Projection:
        """Project a raw response to an env action."""
        raise NotImplementedError


def _quote(s: str) -> str:
    return "'" + str(s).replace("\n", " ").strip() + "'"


@dataclass(frozen=True)
class ReActTemplate(PromptTemplate):
    """``<think>...</think><action>...</action>`` with task, history, observation and admissible actions.

    Attributes:
        intro: First sentence (which environment the agent is in).
        actions_hint: What to say when the env has no admissible-action list.
        lowercase: Lowercase the projected action (verl-agent does; every env here is case-insensitive).
        require_think: A response without ``<think>...</think>`` is format-invalid.
    """

    stop: tuple[str, ...] = ("</action>",)
    intro: str = "You are an expert agent acting in a text environment."
    actions_hint: str = "Choose an action the environment understands."
    lowercase: bool = True
    require_think: bool = True

    def user_message(self, history: History, history_length: int) -> str:
        """Task, the last ``history_length`` steps, the observation, the admissible actions, the format."""
        n = len(history.turns)
        parts = [self.intro, f"Your task is to: {history.task}"]
        shown = history.turns[max(0, n - history_length) :] if history_length > 0 else ()
        if shown:
            lines = [
                f"[Observation {n - len(shown) + i + 1}: {_quote(t.observation)}, "
                f"Action {n - len(shown) + i + 1}: {_quote(t.action)}]"
                for i, t in enumerate(shown)
            ]
            block = "\n".join(lines)
            if len(block) <= self.max_history_chars:
                parts.append(
                    f"Before this step you have taken {n} step(s). Your most recent {len(shown)} "
                    f"observation(s) and the action(s) you took:\n{block}"
                )
        parts.append(f"You are now at step {n + 1}. Your current observation is: {history.observation}")
        if history.admissible_actions is not None:
            acts = ",\n".join(_quote(a) for a in history.admissible_actions)
            parts.append(f"Your admissible actions in the current situation are: [\n{acts}\n].")
            which = "one admissible action"
        else:
            parts.append(self.actions_hint)
            which = "one action"
        parts.append(
            "Now it is your turn to act. First reason step by step about the current situation "
            "inside <think> </think> tags. Then choose " + which + " for this step and write it "
            "inside <action> </action> tags."
        )
        return "\n".join(parts)

    def parse(self, text: str, history: History | None = None) -> Projection:
        """The single ``<action>`` block's content; see the module docstring for the validity rules.

        >>> t = ReActTemplate(name="react")
        >>> t.parse("<think>north is open</think><action> Go  North </action>")
        Projection(action='go north', format_valid=True, error='')
        >>> t.parse("<action>go north</action>").error
        'missing <think>...</think>'
        """
        acts = _ACTION.findall(text)
        action = " ".join(acts[0].split()) if acts else ""
        if self.lowercase:
            action = action.lower()
        error = ""
        if not acts:
            error = "no <action>...</action> block"
        elif len(acts) > 1:
            error = f"{len(acts)} <action> blocks, expected one"
        elif not action:
            error = "empty <action> block"
        elif self.require_think and not _THINK.search(
            text.split("<action>", 1)[0] if "<action>" in text else text
        ):
            error = "missing <think>...</think>"
        elif has_cjk(text):
            error = "CJK characters in the response"
        return Projection(action, not error, error)


@dataclass(frozen=True)
class SearchR1Template(PromptTemplate):
    """Search-R1's prompt: ``<think>``, then ``<search> query </search>`` or ``<answer> ... </answer>``.

    The instruction is Search-R1's (it is the protocol the model is asked to follow, quoted as published in
    ``scripts/data_process/nq_search.py``); the question gets a ``?`` if it lacks one, as there.

    Attributes:
        action_format: How the projected action is written for the env: ``"tag"`` (``<search> q </search>``)
            or ``"bracket"`` (``search[q]``).
        parsing: ``"search-r1"`` (default): exactly Search-R1's ``generation.py``: the response is cut after
            the first ``</search>`` (else the first ``</answer>``), the first case-sensitive
            ``<search>``/``<answer>`` block is the action, and any such block is format-valid (several tags,
            an empty block); the action passed on is the cut response itself (with ``"tag"``), so the env
            sees what Search-R1's reward reads. ``"strict"`` (the earlier behaviour): tags are matched
            case-insensitively, the content's white space is collapsed, and a response with more than one
            tag or an empty block is format-invalid (it is still executed, but counts as invalid in training).
    """

    stop: tuple[str, ...] = ("</search>", "</answer>")
    action_format: str = "tag"
    parsing: str = "search-r1"

    def __post_init__(self) -> None:
        if self.parsing not in ("search-r1", "strict"):
            raise ValueError(
                f"SearchR1Template parsing must be 'search-r1' or 'strict', got {self.parsing!r}"
            )
        if self.action_format not in ("tag", "bracket"):
            raise ValueError(
                f"SearchR1Template action_format must be 'tag' or 'bracket', got {self.action_format!r}"
            )

    def user_message(self, history: History, history_length: int) -> str:
        """The instruction, the question, and the last ``history_length`` steps with their results."""
        q = history.task.strip()
        if q and not q.endswith("?"):
            q += "?"
        text = f"{SEARCH_R1_INSTRUCTION} Question: {q}\n"
        n = len(history.turns)
        shown = list(range(max(0, n - history_length), n)) if history_length > 0 else []
        if shown:
            lines = []
            for j in shown:
                after = history.turns[j + 1].observation if j + 1 < n else history.observation
                lines.append(f"Step {j + 1}: {history.turns[j].action}\n{_information(after)}")
            block = "\n".join(lines)
            if len(block) <= self.max_history_chars:
                text += f"\nYour previous steps (the most recent {len(shown)} of {n}):\n{block}\n"
        elif n == 0 and history.observation.strip() and history.observation.strip() != history.task.strip():
            text += f"\n{history.observation.strip()}\n"
        return text

    def _render(self, tag: str, content: str) -> str:
        return f"{tag}[{content}]" if self.action_format == "bracket" else f"<{tag}> {content} </{tag}>"

    def parse(self, text: str, history: History | None = None) -> Projection:
        """The first ``<search>``/``<answer>`` block after Search-R1's cut (see ``parsing``).

        >>> SearchR1Template(name="s").parse("<think>x</think> <search> Paris </search> junk")
        Projection(action='<think>x</think> <search> Paris </search>', format_valid=True, error='')
        >>> SearchR1Template(name="s", parsing="strict").parse("<search> a </search> junk")
        Projection(action='<search> a </search>', format_valid=True, error='')
        """
        if self.parsing == "search-r1":
            cut = cut_response(text)
            act = parse_action(cut)
            if act is None:
                return Projection("", False, "no <search>...</search> or <answer>...</answer> block")
            return Projection(
                cut if self.action_format == "tag" else self._render(act.kind, act.content), True, ""
            )
        cut = text
        for closing in ("</search>", "</answer>"):
            i = cut.lower().find(closing)
            if i >= 0:
                cut = cut[: i + len(closing)]
                break
        m = _SEARCH_OR_ANSWER.search(cut)
        if m is None:
            return Projection("", False, "no <search>...</search> or <answer>...</answer> block")
        tag, content = m.group(1).lower(), " ".join(m.group(2).split())
        action = self._render(tag, content)
        if not content:
            return Projection(action, False, f"empty <{tag}> block")
        if len(_OPEN_TAG.findall(cut)) > 1:
            return Projection(action, False, "more than one <search>/<answer> tag")
        return Projection(action, True, "")


def _information(obs: str) -> str:
    obs = obs.strip()
    return obs if obs.startswith("<information>") else f"<information>{obs}</information>"


def describe(template: PromptTemplate) -> dict[str, Any]:
    """A JSON-able summary of a template (name, class, stop strings)."""
    return {"name": template.name, "class": type(template).__name__, "stop": list(template.stop)}
