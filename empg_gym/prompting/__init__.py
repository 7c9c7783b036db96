"""Prompt templates and the projection from raw model text to an env action.

A :class:`~empg_gym.prompting.templates.PromptTemplate` turns a :class:`~empg_gym.types.History` into chat
messages (the tokenizer's chat template turns those into the prompt text), names the stop strings that end a
response, and projects a raw response back to an env action plus a ``format_valid`` flag (format errors are
reported to the trainer, which may penalise them; the env then sees the action, or ``""`` when none could be
parsed, and answers with its invalid-action message).

Templates (see :data:`TEMPLATES`):

- ``react``: the ReAct form of EMPG and verl-agent, ``<think>...</think><action>...</action>``, with the task,
  the last N steps, the current observation and the admissible actions; used for the toy envs.
- ``webshop`` / ``alfworld``: the same form with each benchmark's wording.
- ``search_r1``: Search-R1's prompt (``<search> query </search>`` / ``<answer> ... </answer>``), for
  DeepSearch.

``"auto"`` picks the template from the env id (:data:`AUTO`); unknown envs get ``react``.

:func:`render_prompt` is the one prompt path of every tokenizer-based backend (transformers, vLLM): template
messages -> the tokenizer's chat template -> ``+ response_prefix`` -> token ids.
"""

from __future__ import annotations

from typing import Any

from empg_gym.prompting.templates import (
    Projection,
    PromptTemplate,
    ReActTemplate,
    SearchR1Template,
    has_cjk,
)
from empg_gym.types import History

__all__ = [
    "AUTO",
    "TEMPLATES",
    "Projection",
    "PromptTemplate",
    "ReActTemplate",
    "SearchR1Template",
    "format_response",
    "get_template",
    "has_cjk",
    "render_prompt",
]

def format_response(action: str, think: str, *, sep: str = "") -> str:
    """A response that plays ``action``: ``<think>{think}</think>``, then the action in its template's form.

    Actions that are already tagged (Search-R1's ``<search> q </search>``) follow the ``<think>`` block as they
    are, after ``sep``; others go inside ``<action>...</action>``. Behaviour cloning's targets and the few-shot
    examples are written with it.

    >>> format_response("go north", "ok")
    '<think>ok</think><action>go north</action>'
    >>> format_response("<search> Paris </search>", "ok", sep=" ")
    '<think>ok</think> <search> Paris </search>'
    """
    if action.lstrip().startswith("<"):
        return f"<think>{think}</think>{sep}{action}"
    return f"<think>{think}</think><action>{action}</action>"


#: template name -> template.
TEMPLATES: dict[str, PromptTemplate] = {
    "react": ReActTemplate(name="react"),
    "webshop": ReActTemplate(
        name="webshop",
        intro="You are an expert autonomous agent shopping in the WebShop e-commerce environment.",
        actions_hint="Search with search[<your query>] or click an element with click[<element>].",
    ),
    "alfworld": ReActTemplate(
        name="alfworld",
        intro="You are an expert agent operating in the ALFRED embodied household environment.",
    ),
    "search_r1": SearchR1Template(name="search_r1"),
}

#: env id prefix (without the version) -> template name, for ``prompt: auto``.
AUTO: dict[str, str] = {
    "empg/WebShop": "webshop",
    "empg/ALFWorld": "alfworld",
    "empg/DeepSearch": "search_r1",
}


def get_template(name: str = "auto", env_id: str = "") -> PromptTemplate:
    """The template called ``name``; ``"auto"`` picks by ``env_id`` (``react`` for envs not in :data:`AUTO`).

    >>> get_template("auto", "empg/WebShop-v0").name
    'webshop'
    >>> get_template("auto", "empg/KeyDoor-v0").name
    'react'
    """
    if name == "auto":
        base = env_id.split(":")[-1].rsplit("-v", 1)[0]
        return TEMPLATES[AUTO.get(base, "react")]
    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(TEMPLATES)
        raise ValueError(f"unknown prompt template {name!r}; choose from auto, {known}") from None


def render_prompt(tokenizer: Any, template: PromptTemplate, history: History, history_length: int,
                  response_prefix: str = "") -> tuple[str, list[int]]:
    """The prompt text of one history and its token ids, as every tokenizer-based backend builds it.

    Args:
        tokenizer: A Hugging Face tokenizer with a chat template.
        template: The prompt template (:func:`get_template`).
        history: What the agent sees.
        history_length: Past turns shown.
        response_prefix: Text appended after the chat template's generation prompt (e.g. ``"<think>"``): it
            belongs to the prompt, so its tokens are prompt tokens and the projection parses
            ``response_prefix + response``.

    Returns:
        ``(text, token_ids)``; the ids are the text tokenized without special tokens added (the chat template
        already wrote them).
    """
    msgs = template.messages(history, history_length)
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + response_prefix
    return text, list(tokenizer(text, add_special_tokens=False)["input_ids"])
