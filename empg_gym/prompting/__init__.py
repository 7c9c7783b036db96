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
"""

from __future__ import annotations

from empg_gym.prompting.templates import (
    Projection,
    PromptTemplate,
    ReActTemplate,
    SearchR1Template,
    has_cjk,
)

__all__ = [
    "AUTO",
    "TEMPLATES",
    "Projection",
    "PromptTemplate",
    "ReActTemplate",
    "SearchR1Template",
    "get_template",
    "has_cjk",
]

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
