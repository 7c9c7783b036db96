r"""``empg/DeepSearch-v0``: search-augmented (multi-hop) question answering, Search-R1's protocol.

An episode: the observation is a question. Each turn the agent either searches, ``<search> query </search>``,
and sees the top-``topk`` passages as ``<information>Doc 1(Title: "...") ...</information>``, or answers,
``<answer> ... </answer>``, which ends the episode with reward = exact match (Search-R1's
``normalize_answer``; 1 or 0). Parsing, the results block and the invalid-action message are Search-R1's
(:mod:`empg_gym.envs.deepsearch.protocol`): the first tag wins and text after the first closing tag is
ignored; a response without a complete ``<search>``/``<answer>`` block is an invalid action (reward 0, the
observation is Search-R1's "My previous action is invalid. ..." message).

Turn limit, as Search-R1's ``max_turns`` (``generation.py``): up to ``max_turns`` (default 4) turns may
search; every action counts as a turn, invalid ones included; after them one more turn is given in which
only an answer counts (a search there is not run). Without an answer by then the episode is truncated
(reward 0). So an episode has at most ``max_turns + 1`` steps; the env enforces this itself, so
``max_turns`` can be changed with ``gym.make(..., max_turns=n)`` alone (the registered
``max_episode_steps`` is only an outer safety cap).

``info`` carries: ``turn``, ``searches_left``, ``retrieved_doc_ids`` (this search's hits), and on the last
step ``em``, ``f1`` (FlashRAG's token F1), ``answer``, ``golden_answers``, ``data_source``, ``hops``,
``episode_doc_ids`` (every passage retrieved in the episode) and ``supporting_recall`` (share of the gold
passages retrieved, when they are known). ``info["admissible_actions"]`` is a short list of *suggested*
actions (search the question, search or answer a title just retrieved); the real action set is open text.

Data: the generated multi-hop world (:mod:`empg_gym.envs.deepsearch.world`; ``split``, ``hops``,
``world_seed``, ``world_size``) by default, or real questions with ``questions=<file>`` (or
``$EMPG_DEEPSEARCH_QUESTIONS``) and a corpus with ``corpus=<jsonl>`` (or ``$EMPG_DEEPSEARCH_CORPUS``), or any
``/retrieve`` server with ``retriever="remote", retriever_kwargs={"url": ...}``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from empg_gym.envs.base import InvalidAction, TextEnv, Transition
from empg_gym.envs.deepsearch.data import CORPUS_ENV_VAR, QUESTIONS_ENV_VAR, QARecord, load_questions
from empg_gym.envs.deepsearch.protocol import (
    INVALID_MESSAGE,
    Action,
    cut_response,
    exact_match,
    extract_solution,
    f1_score,
    format_information,
    parse_action,
    search_r1_prompt,
)
from empg_gym.envs.deepsearch.world import Question, World, generate_world, make_questions
from empg_gym.envs.provenance import check_choice, check_int, provenance
from empg_gym.retrieval import RETRIEVERS

#: Largest ``max_turns`` (the registered ``max_episode_steps`` of 64 must not cut an episode short).
MAX_TURNS = 63
#: Split sizes of the generated world.
SPLIT_SIZES = {"train": 4000, "valid": 400, "test": 400}
_WORLDS: dict[tuple, tuple[World, dict[str, list[Question]]]] = {}
_RETRIEVERS: dict[tuple, Any] = {}
_QUESTIONS: dict[tuple, list[QARecord]] = {}


def get_world(seed: int = 0, size: int = 400) -> tuple[World, dict[str, list[Question]]]:
    """The generated world and its question splits (memoised per process)."""
    key = (seed, size)
    if key not in _WORLDS:
        world = generate_world(seed, n_people=size)
        _WORLDS[key] = (world, make_questions(world, SPLIT_SIZES))
    return _WORLDS[key]


def get_retriever(name: str, corpus_key: tuple, corpus_fn, **kwargs: Any) -> Any:
    """A retriever over a corpus (memoised per process; the bm25s index is also cached on disk)."""
    from empg_gym.retrieval import make_retriever

    key = (name, corpus_key, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    if key not in _RETRIEVERS:
        _RETRIEVERS[key] = make_retriever(name, None if name == "remote" else corpus_fn(), **kwargs)
    return _RETRIEVERS[key]


@dataclass(frozen=True)
class _Task:
    id: str
    question: str
    golds: tuple[str, ...]
    data_source: str
    hops: int | None
    supporting: tuple[str, ...]
    generated: Question | None = None


class DeepSearchEnv(TextEnv):
    """Search-augmented QA with Search-R1's protocol; see the module docstring.

    Args:
        split: ``train`` / ``valid`` / ``test`` of the generated world (ignored for real data).
        hops: Keep only generated questions with these hop counts (an int or a list; default all, 1-4).
        max_turns: Turns that may search (Search-R1's ``max_turns``); one more turn may only answer.
        topk: Passages per search.
        retriever: ``auto`` (default: ``bm25s`` when installed, else the numpy ``builtin`` BM25, so a bare
            install works), ``builtin``, ``bm25s``, ``pyserini``, ``dense`` or ``remote``. The backend
            used is ``info["retriever"]``.
        retriever_kwargs: Options of the retriever (e.g. ``{"url": ...}`` for remote, ``cache_dir``).
        questions: A real question file (FlashRAG / Search-R1 / IRCoT format); default
            ``$EMPG_DEEPSEARCH_QUESTIONS``, else the generated world.
        corpus: The corpus JSONL for real questions; default ``$EMPG_DEEPSEARCH_CORPUS``.
        data_source: Override the data source name of real questions.
        limit: Use only the first ``limit`` real questions.
        world_seed: Seed of the generated world.
        world_size: People in the generated world (passages ~ 1.65x).
        answer_scoring: ``"search-r1"`` (default): the reward is the EM of Search-R1's scored answer, the
            last ``<answer>`` block of the whole episode text (Search-R1's prompt, the responses after its
            cut, the results), also when the episode is truncated; ``"executed"``: the EM of the answer that
            ended the episode (0 when none did).
        render_mode: ``ansi`` or ``human``.
        max_obs_length: Observation cap in characters.
    """

    def __init__(
        self,
        *,
        split: str = "test",
        hops: int | Sequence[int] | None = None,
        max_turns: int = 4,
        topk: int = 3,
        retriever: str = "auto",
        retriever_kwargs: dict[str, Any] | None = None,
        questions: str | os.PathLike | None = None,
        corpus: str | os.PathLike | None = None,
        data_source: str | None = None,
        limit: int | None = None,
        world_seed: int = 0,
        world_size: int = 400,
        answer_scoring: str = "search-r1",
        render_mode: str | None = None,
        max_obs_length: int = 1 << 14,
    ) -> None:
        check_int("max_obs_length", max_obs_length, 256, 1 << 20)
        super().__init__(render_mode=render_mode, max_obs_length=max_obs_length)
        self.max_turns = check_int("max_turns", max_turns, 0, MAX_TURNS)
        self.topk = check_int("topk", topk, 1, 100)
        check_int("world_seed", world_seed, -(2**63), 2**63 - 1)
        check_int("world_size", world_size, 100, 1_000_000)
        check_int("limit", limit, 1, none_ok=True)
        check_choice("retriever", retriever, RETRIEVERS)
        self.answer_scoring = check_choice("answer_scoring", answer_scoring, ("search-r1", "executed"))
        rkw = dict(retriever_kwargs or {})
        q_from = "questions=" if questions else f"${QUESTIONS_ENV_VAR}"
        c_from = "corpus=" if corpus else f"${CORPUS_ENV_VAR}"
        questions = questions or os.environ.get(QUESTIONS_ENV_VAR) or None
        corpus = corpus or os.environ.get(CORPUS_ENV_VAR) or None
        if corpus is not None and questions is None:
            raise ValueError(
                f"a corpus was given ({c_from} {corpus}) but no questions: the generated world has its "
                f"own passages, so the corpus would be ignored. Pass questions=<file> (or set "
                f"${QUESTIONS_ENV_VAR}) to play real questions, or drop the corpus (unset "
                f"${CORPUS_ENV_VAR}) for the generated world"
            )
        if questions is not None and not os.path.isfile(questions):
            raise FileNotFoundError(f"question file {questions} ({q_from}) not found")
        if corpus is not None and not os.path.isfile(corpus):
            raise FileNotFoundError(f"corpus file {corpus} ({c_from}) not found")
        self.world: World | None = None
        self._questions_path = None if questions is None else os.fspath(questions)
        self._corpus_path = None if corpus is None else os.fspath(corpus)
        self._prov_params: dict[str, Any] = {
            "max_turns": self.max_turns,
            "topk": self.topk,
            "answer_scoring": self.answer_scoring,
        }
        if questions is None:
            check_choice("split", split, tuple(SPLIT_SIZES))
            self._prov_params.update(split=split, world_seed=world_seed, world_size=world_size)
            world, splits = get_world(world_seed, world_size)
            self.world = world
            want = None if hops is None else ({hops} if isinstance(hops, int) else set(hops))
            if want is not None and not want <= {1, 2, 3, 4}:
                raise ValueError(f"hops must be within 1..4, got {sorted(want, key=repr)}")
            self._prov_params["hops"] = None if want is None else sorted(want)
            self.tasks = [
                _Task(q.id, q.question, q.answers, "generated", q.hops, q.supporting_doc_ids, q)
                for q in splits[split]
                if want is None or q.hops in want
            ]

            def corpus_fn():
                from empg_gym.retrieval import Corpus

                return Corpus.from_rows(
                    world.passages, f"generated world seed={world_seed} size={world_size}"
                )

            corpus_key: tuple = ("world", world_seed, world_size)
        else:
            qkey = (str(questions), data_source, limit)
            if qkey not in _QUESTIONS:
                _QUESTIONS[qkey] = load_questions(questions, data_source, limit)
            recs = _QUESTIONS[qkey]
            seen: dict[str, int] = {}
            self.tasks = []
            for r in recs:
                n = seen.get(r.id, 0)
                seen[r.id] = n + 1
                tid = r.id if n == 0 else f"{r.id}#{n}"
                self.tasks.append(
                    _Task(tid, r.question, r.golden_answers, r.data_source, None, r.supporting_doc_ids)
                )
            self._prov_params.update(data_source=data_source, limit=limit)
            if corpus is None and retriever != "remote":
                raise ValueError(
                    "real questions need a corpus: pass corpus=<Search-R1 corpus .jsonl> "
                    f"or set ${CORPUS_ENV_VAR} "
                    '(or use retriever="remote" with a /retrieve server)'
                )
            path = str(corpus)

            def corpus_fn():
                from empg_gym.retrieval import load_corpus

                return load_corpus(path)

            corpus_key = (
                "file",
                path,
                os.path.getmtime(path) if corpus is not None and os.path.exists(path) else 0,
            )
        if not self.tasks:
            raise ValueError(f"no questions for split={split!r} hops={hops!r}")
        self.task_ids = [t.id for t in self.tasks]
        self.retriever = get_retriever(retriever, corpus_key, corpus_fn, **rkw)
        self._prov_params["retriever"] = self.retriever.name
        if self.retriever.name in ("bm25s", "builtin"):
            from empg_gym.retrieval.bm25 import analyzer_name

            self._prov_params["analyzer"] = analyzer_name()
        if self.retriever.name == "remote":
            self._prov_params["url"] = str(getattr(self.retriever, "url", ""))
        self._t: _Task = self.tasks[0]
        self._turn = 0
        self._observations: list[str] = []
        self._episode_docs: list[str] = []
        self._last_titles: list[str] = []
        self._text = ""  # the episode as Search-R1's reward reads it (prompt, cut responses, results)

    def data_provenance(self) -> dict[str, Any]:
        """What the episodes come from (see :mod:`empg_gym.envs.provenance`).

        Generated world: its seed, size, split and hop filter; real data: the question file's and the
        corpus's content hashes. Both: the retriever (and its analyzer), ``topk`` and ``max_turns``.
        """
        if self._questions_path is None:
            return provenance("generated", "deepsearch-world", params=self._prov_params)
        files = {f"questions/{os.path.basename(self._questions_path)}": self._questions_path}
        if self._corpus_path is not None and self.retriever.name != "remote":
            files[f"corpus/{os.path.basename(self._corpus_path)}"] = self._corpus_path
        source = ",".join(sorted({t.data_source for t in self.tasks}))
        return provenance("real", source, files, self._prov_params)

    def _info(self, *, action_valid: bool, **extra: Any) -> dict[str, Any]:
        info = super()._info(action_valid=action_valid, **extra)
        info["retriever"] = self.retriever.name
        return info

    # ------------------------------------------------------------------ TextEnv hooks
    def _reset_task(self, options: dict[str, Any]) -> str:
        self._t = self.tasks[self._pick_index(options, self.task_ids)]
        self.task, self.task_id = self._t.question, self._t.id
        self._turn = 0
        self._observations = []
        self._episode_docs = []
        self._last_titles = []
        self._text = search_r1_prompt(self._t.question)
        return self._t.question

    def _parse(self, action: str) -> Action:
        parsed = parse_action(action)
        if parsed is None:
            raise InvalidAction(INVALID_MESSAGE)
        return parsed

    def _scored(self, executed: str | None) -> str | None:
        """The answer the reward scores (see ``answer_scoring``)."""
        return extract_solution(self._text) if self.answer_scoring == "search-r1" else executed

    def _transition(self, parsed: Action) -> Transition:
        if parsed.kind == "answer":
            scored = self._scored(parsed.content)
            em = exact_match(scored, self._t.golds) if scored is not None else 0.0
            return Transition(
                f"Your answer: {parsed.content}",
                reward=em,
                terminated=True,
                won=em == 1.0,
                score=em,
                info=self._final(scored, em, parsed.content),
            )
        if self._turn > self.max_turns:  # the answer-only turn: the search is not run (Search-R1)
            return Transition(f"No search results: the limit of {self.max_turns} searches is reached.")
        hits = self.retriever.search([parsed.content], self.topk)[0]
        ids = [h.id for h in hits]
        self._episode_docs.extend(i for i in ids if i not in self._episode_docs)
        self._last_titles = [h.title.strip('"') for h in hits]
        obs = format_information([h.contents for h in hits])
        self._observations.append(obs)
        return Transition(obs, info={"retrieved_doc_ids": ids})

    def _admissible_actions(self) -> list[str] | None:
        out = [f"<search> {self._t.question} </search>"]
        for t in self._last_titles:
            out += [f"<search> {t} </search>", f"<answer> {t} </answer>"]
        return list(dict.fromkeys(out))

    def expert_action(self) -> str:
        """The oracle's next action (generated world only; see :mod:`empg_gym.envs.deepsearch.oracle`)."""
        if self.world is None or self._t.generated is None:
            raise NotImplementedError("DeepSearch has a scripted expert for the generated world only")
        from empg_gym.envs.deepsearch.oracle import oracle_action

        return oracle_action(self.world, self._t.generated, self._observations)

    # ------------------------------------------------------------------ turn counting
    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        """One turn; every action, valid or not, uses a turn (Search-R1), see the module docstring."""
        if self._done:
            return super().step(action)
        self._turn += 1
        if isinstance(action, str):
            self._text += cut_response(action)  # what Search-R1 keeps of the response
        obs, reward, terminated, truncated, info = super().step(action)
        if not terminated:  # what Search-R1's loop appends after the response
            self._text += f"\n\n{obs}\n\n" if info["action_valid"] else f"\n{obs}\n"
        last = self._turn >= self.max_turns + 1
        if last and not terminated:
            truncated = True
            self._done = True
            scored = self._scored(None)
            reward = exact_match(scored, self._t.golds) if scored is not None else 0.0
            self._won, self._score = reward == 1.0, reward
            info.update(self._final(scored, reward, None))
            info.update(won=self._won, score=reward)
            info["admissible_actions"] = None
        info["turn"] = self._turn
        info["searches_left"] = max(0, self.max_turns - self._turn)
        return obs, reward, terminated, truncated, info

    def _final(self, answer: str | None, em: float, executed: str | None) -> dict[str, Any]:
        sup = self._t.supporting
        recall = (sum(d in self._episode_docs for d in sup) / len(sup)) if sup else None
        return {
            "em": em,
            "f1": f1_score(answer, self._t.golds) if answer is not None else 0.0,
            "answer": answer,
            "executed_answer": executed,
            "golden_answers": list(self._t.golds),
            "data_source": self._t.data_source,
            "hops": self._t.hops,
            "episode_doc_ids": list(self._episode_docs),
            "supporting_recall": recall,
        }
