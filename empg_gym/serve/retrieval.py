r"""A retrieval server speaking Search-R1's ``POST /retrieve`` API (Flask), so its clients work unchanged.

Request (Search-R1 ``search_r1/search/retrieval_server.py``)::

    {"queries": ["q1", "q2"], "topk": 3, "return_scores": true}

``topk`` defaults to 3 (also when it is 0) and ``return_scores`` to false, and ``"queries": []`` gives
``{"result": []}``, as there. A single ``"query": "q"`` (verl-agent's request shape) is read as a batch of
one.
Response::

    {"result": [[{"document": {"id": "...", "contents": "\"Title\"\ntext"}, "score": 1.23}, ...], ...]}

or, without scores, ``{"result": [[{"id", "contents"}, ...], ...]}``. ``GET /health`` reports the retriever
and corpus size.

Safety: binds 127.0.0.1 by default; the body is capped (``max_body_bytes``, 413), as are the number of
queries, ``topk`` and the length of a query (400); malformed JSON or fields give a 400. Every error is JSON
``{"error": "..."}``. Flask is imported only here (the ``serve`` extra).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from empg_gym._optional import require
from empg_gym.retrieval import Retriever


@dataclass(frozen=True)
class Limits:
    """Request limits of the server.

    Attributes:
        max_body_bytes: Largest request body.
        max_queries: Most queries in one request.
        max_topk: Largest ``topk``.
        max_query_chars: Longest query.
        default_topk: ``topk`` when the request has none (Search-R1: 3).
    """

    max_body_bytes: int = 1 << 20
    max_queries: int = 512
    max_topk: int = 100
    max_query_chars: int = 4096
    default_topk: int = 3


class RequestError(ValueError):
    """A bad request; the message goes back to the client with a 400."""


def parse_request(body: Any, limits: Limits) -> tuple[list[str], int, bool]:
    """Validate a ``/retrieve`` body: ``(queries, topk, return_scores)``.

    Raises:
        RequestError: With a message for the client.
    """
    if not isinstance(body, dict):
        raise RequestError('the body must be a JSON object such as {"queries": ["..."], "topk": 3}')
    if "queries" in body:
        queries = body["queries"]
    elif "query" in body:
        queries = [body["query"]]
    else:
        raise RequestError('missing "queries" (a list of strings)')
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise RequestError('"queries" must be a list of strings')
    if len(queries) > limits.max_queries:
        raise RequestError(f"too many queries: {len(queries)} > {limits.max_queries} per request")
    long = [i for i, q in enumerate(queries) if len(q) > limits.max_query_chars]
    if long:
        raise RequestError(f"query {long[0]} is longer than {limits.max_query_chars} characters")
    topk = body.get("topk", limits.default_topk)
    if topk is None or (type(topk) is int and topk == 0):  # Search-R1: `if not request.topk` -> default
        topk = limits.default_topk
    if isinstance(topk, bool) or not isinstance(topk, int):
        raise RequestError(f'"topk" must be an integer, got {topk!r}')
    if not 1 <= topk <= limits.max_topk:
        raise RequestError(f'"topk" must be in [1, {limits.max_topk}], got {topk}')
    scores = body.get("return_scores", False)
    if not isinstance(scores, bool):
        raise RequestError(f'"return_scores" must be true or false, got {scores!r}')
    return queries, topk, scores


def create_app(retriever: Retriever, limits: Limits | None = None, n_passages: int | None = None):
    """The Flask app serving ``retriever``.

    Args:
        retriever: Any :class:`~empg_gym.retrieval.Retriever`.
        limits: Request limits.
        n_passages: Corpus size, for ``/health``.

    Returns:
        A ``flask.Flask`` app.
    """
    flask = require("flask", "serve", why="the retrieval server")
    limits = limits or Limits()
    app = flask.Flask("empg_gym.serve.retrieval")
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body_bytes
    app.json.sort_keys = False

    def error(status: int, message: str):
        return flask.jsonify({"error": message}), status

    @app.errorhandler(413)
    def too_large(_e):
        return error(413, f"request body larger than {limits.max_body_bytes} bytes")

    @app.errorhandler(404)
    def not_found(_e):
        return error(404, "unknown path; use POST /retrieve or GET /health")

    @app.errorhandler(405)
    def bad_method(_e):
        return error(405, "method not allowed; /retrieve takes POST with a JSON body")

    @app.errorhandler(500)
    def internal(_e):
        return error(500, "internal error in the retriever")

    @app.get("/health")
    def health():
        return flask.jsonify(
            {"status": "ok", "retriever": getattr(retriever, "name", "?"), "passages": n_passages}
        )

    @app.post("/retrieve")
    def retrieve():
        raw = flask.request.get_data(cache=False)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return error(400, f"the body is not valid JSON: {e}")
        try:
            queries, topk, with_scores = parse_request(body, limits)
        except RequestError as e:
            return error(400, str(e))
        results = retriever.search(queries, topk) if queries else []  # Search-R1: [] -> {"result": []}
        if with_scores:
            out = [[h.to_json(True) for h in hits] for hits in results]
        else:
            out = [[h.to_json(False)["document"] for h in hits] for hits in results]
        return flask.jsonify({"result": out})

    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-serve retrieval``: serve a corpus over Search-R1's ``/retrieve`` API."""
    p = argparse.ArgumentParser(prog="empg-serve retrieval", description=main.__doc__)
    p.add_argument(
        "--corpus",
        default="generated",
        help='corpus JSONL (Search-R1 format), or "generated" for the DeepSearch world (default)',
    )
    p.add_argument("--retriever", default="bm25s", choices=("bm25s", "pyserini", "dense"))
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--cache-dir", default=None, help="index cache folder (default $EMPG_CACHE or ~/.cache/empg_gym)"
    )
    p.add_argument("--world-seed", type=int, default=0)
    p.add_argument("--world-size", type=int, default=400)
    p.add_argument("--topk", type=int, default=3, help="topk when a request has none")
    p.add_argument("--max-queries", type=int, default=Limits.max_queries)
    p.add_argument("--max-topk", type=int, default=Limits.max_topk)
    p.add_argument("--max-body-bytes", type=int, default=Limits.max_body_bytes)
    p.add_argument("--max-query-chars", type=int, default=Limits.max_query_chars)
    args = p.parse_args(argv)
    from empg_gym.retrieval import Corpus, load_corpus, make_retriever

    t0 = time.perf_counter()
    try:
        if args.corpus == "generated":
            from empg_gym.envs.deepsearch.world import generate_world

            corpus = Corpus.from_rows(generate_world(args.world_seed, args.world_size).passages, "generated")
        else:
            corpus = load_corpus(args.corpus)
        kwargs = {"cache_dir": args.cache_dir} if args.cache_dir and args.retriever != "dense" else {}
        retriever = make_retriever(args.retriever, corpus, **kwargs)
    except (FileNotFoundError, ValueError) as e:
        print(f"empg-serve: {e}", file=sys.stderr)
        return 2
    limits = Limits(args.max_body_bytes, args.max_queries, args.max_topk, args.max_query_chars, args.topk)
    if not _is_loopback(args.host):
        print(
            f"empg-serve: WARNING: listening on {args.host}, reachable from other machines; "
            "the server has no authentication",
            file=sys.stderr,
        )
    print(
        f"empg-serve: {args.retriever} over {len(corpus)} passages ready in "
        f"{time.perf_counter() - t0:.1f} s; "
        f"POST http://{args.host}:{args.port}/retrieve",
        file=sys.stderr,
    )
    app = create_app(retriever, limits, len(corpus))
    app.run(host=args.host, port=args.port, threaded=True)
    return 0
