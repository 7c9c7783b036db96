r"""Search-R1's action protocol and answer metrics, written from the published behaviour.

Parsing (``search_r1/llm_agent/generation.py``): the response is cut after the first ``</search>`` (if
none, after the first ``</answer>``); the first ``<(search|answer)>(.*?)</\1>`` match (DOTALL, case-sensitive)
is the action, so the first tag wins and text after the first closing tag is ignored. Anything else is an
invalid action and the agent is told :data:`INVALID_MESSAGE`.

Results are shown as ``Doc {i}(Title: {first line}) {rest}`` lines inside ``<information>...</information>``.

Reward: Search-R1 scores the *last* ``<answer>`` block of the whole sequence (prompt, responses, results;
:func:`extract_solution`), which can differ from the answer that ended the episode (e.g. when an earlier
response left an ``<answer>`` open, the last block spans turns).

Metrics: :func:`normalize_answer` and :func:`exact_match` as Search-R1's ``qa_em.py`` (lower case, drop
``string.punctuation``, drop the articles a/an/the, collapse white space; a hit on any gold answer);
:func:`f1_score` as FlashRAG's ``F1_Score`` (token multiset overlap after normalisation, max over golds; if
either side normalises to yes/no/noanswer and they differ, that gold scores 0).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "INVALID_MESSAGE",
    "SEARCH_R1_INSTRUCTION",
    "Action",
    "cut_response",
    "extract_solution",
    "search_r1_prompt",
    "exact_match",
    "f1_score",
    "format_information",
    "normalize_answer",
    "parse_action",
]

#: What Search-R1 appends after an invalid response (``generation.py``).
INVALID_MESSAGE = (
    "My previous action is invalid. If I want to search, I should put the query between <search> and "
    "</search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. "
    "Let me try again."
)

#: Search-R1's instruction (``scripts/data_process/nq_search.py``); it holds two ``<answer>`` blocks, which
#: matter for :func:`extract_solution` on a whole Search-R1 sequence.
SEARCH_R1_INSTRUCTION = (
    "Answer the given question. You must conduct reasoning inside <think> and </think> first every time you "
    "get new information. After reasoning, if you find you lack some knowledge, you can call a search engine "
    "by <search> query </search> and it will return the top searched results between <information> and "
    "</information>. You can search as many times as your want. If you find no further external knowledge "
    "needed, you can directly provide the answer inside <answer> and </answer>, without detailed "
    "illustrations. For example, <answer> Beijing </answer>."
)

_ACTION = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SPECIAL = ("yes", "no", "noanswer")


@dataclass(frozen=True, slots=True)
class Action:
    """A parsed action.

    Attributes:
        kind: ``"search"`` or ``"answer"``.
        content: The text between the tags, stripped.
    """

    kind: str
    content: str


def cut_response(text: str) -> str:
    """Search-R1's cut: up to the first ``</search>``, else up to the first ``</answer>``, else unchanged.

    >>> cut_response("<search> a </search> tail <answer> b </answer>")
    '<search> a </search>'
    """
    for closing in ("</search>", "</answer>"):
        i = text.find(closing)
        if i >= 0:
            return text[: i + len(closing)]
    return text


def parse_action(text: str) -> Action | None:
    """The action in a response, or None when it holds no complete search/answer block.

    >>> parse_action("<think>hmm</think><search> capital of France </search> junk <answer>x</answer>")
    Action(kind='search', content='capital of France')
    >>> parse_action("<answer> Paris </answer><search>q</search>")
    Action(kind='answer', content='Paris')
    >>> parse_action("Paris") is None
    True
    """
    m = _ACTION.search(cut_response(text))
    if m is None:
        return None
    return Action(m.group(1), m.group(2).strip())


def search_r1_prompt(question: str) -> str:
    """Search-R1's user prompt for ``question`` (``make_prefix``, template ``base``)."""
    q = question.strip()
    if q and not q.endswith("?"):
        q += "?"
    return f"{SEARCH_R1_INSTRUCTION} Question: {q}\n"


def extract_solution(text: str) -> str | None:
    """Search-R1's answer for the reward (``qa_em.py`` ``extract_solution``): the last ``<answer>`` block.

    Over the whole sequence (prompt, responses, results); None when it holds at most one block (the
    prompt's own examples count, so with Search-R1's prompt the last block of the episode is scored).

    >>> extract_solution("<answer> a </answer> x <answer> b <search> q </search> </answer>")
    'b <search> q </search>'
    >>> extract_solution("<answer> only one </answer>") is None
    True
    """
    matches = _ANSWER_BLOCK.findall(text)
    return matches[-1].strip() if len(matches) > 1 else None


def normalize_answer(s: str) -> str:
    """Search-R1 / SQuAD normalisation: lower, drop punctuation, drop articles, collapse spaces.

    >>> normalize_answer("The  Eiffel-Tower!")
    'eiffeltower'
    >>> normalize_answer("An apple a day")
    'apple day'
    """
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _golds(golds: str | Iterable[str]) -> list[str]:
    return [golds] if isinstance(golds, str) else [str(g) for g in golds]


def exact_match(prediction: str, golds: str | Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer, else 0.0.

    >>> exact_match("the Beatles", ["Beatles", "The Rolling Stones"])
    1.0
    """
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in _golds(golds)))


def f1_score(prediction: str, golds: str | Iterable[str]) -> float:
    """FlashRAG's token F1, the max over gold answers (yes/no/noanswer must match exactly).

    >>> round(f1_score("Paris France", "Paris"), 4)
    0.6667
    >>> f1_score("yes", "no")
    0.0
    """
    p = normalize_answer(prediction)
    best = 0.0
    for g in _golds(golds):
        g = normalize_answer(g)
        if (p in _SPECIAL or g in _SPECIAL) and p != g:
            continue
        pt, gt = p.split(), g.split()
        same = sum((Counter(pt) & Counter(gt)).values())
        if same == 0:
            continue
        precision, recall = same / len(pt), same / len(gt)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def format_information(contents: Sequence[str]) -> str:
    r"""Search-R1's results block for the retrieved passages (``"Title"\ntext`` each).

    >>> format_information(['"Evan Morris"\nEvan Morris was a lobbyist.'])
    '<information>Doc 1(Title: "Evan Morris") Evan Morris was a lobbyist.</information>'
    """
    ref = ""
    for i, c in enumerate(contents):
        title, _, text = c.partition("\n")
        ref += f"Doc {i + 1}(Title: {title}) {text}\n"
    return f"<information>{ref.strip()}</information>"
