r"""A retrieval server speaking Search-R1's ``POST /retrieve`` API (Flask), so its clients work unchanged.

Request (Search-R1 ``search_r1/search/retrieval_server.py``)::

    {"queries": ["q1", "q2"], "topk": 3, "return_scores": true}

``topk`` defaults to 3 and ``return_scores`` to false, as there. A single ``"query": "q"`` (verl-agent's
request shape) is read as a batch of one. Response::

    {"result": [[{"document": {"id": "...", "contents": "\"Title\"\ntext"}, "score": 1.23}, ...], ...]}

or, without scores, ``{"result": [[{"id", "contents"}, ...], ...]}``. ``GET /health`` reports the retriever
and corpus size.

Safety: binds 127.0.0.1 by default; the body is capped (``max_body_bytes``, 413), as are the number of
queries, ``topk`` and the length of a query (400). Any malformed body is a 400: invalid JSON or UTF-8,
JSON nested so deeply that Python's parser runs out of recursion (about 1000 levels), integer
literals of more than ``max_int_digits`` digits (e.g. a 5000-digit ``topk``), ``NaN``/``Infinity``, wrong
fields. The response is bounded too: a request asking for more than ``max_hits`` passages in total
(queries x topk), or whose response would be larger than ``max_response_bytes``, is refused with a 413 (never
silently cut). Every error is JSON ``{"error": "..."}``. ``empg-serve retrieval`` runs the app on waitress
(:mod:`.wsgi`: a bounded worker pool, connection limit, idle and request timeouts). Flask and waitress
are imported only here (the ``serve`` extra).
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
        max_hits: Most passages in one response (sum over queries of ``topk``); more is a 413.
        max_response_bytes: Largest response body; a request whose response would be larger is a 413.
        max_int_digits: Longest integer literal accepted in a body.
    """

    max_body_bytes: int = 1 << 20
    max_queries: int = 512
    max_topk: int = 100
    max_query_chars: int = 4096
    default_topk: int = 3
    max_hits: int = 4096
    max_response_bytes: int = 8 << 20
    max_int_digits: int = 18


class RequestError(ValueError):
    """A bad request; the message goes back to the client with a 400."""


class TooManyHits(RequestError):
    """The request asks for more passages than ``max_hits``; the client gets a 413."""


def check_hits(queries: Sequence[str], topk: int, limits: Limits) -> None:
    """Refuse (before searching) a request for more than ``limits.max_hits`` passages in total.

    Raises:
        TooManyHits: With a message for the client.
    """
    if len(queries) * topk > limits.max_hits:
        raise TooManyHits(f"{len(queries)} queries x topk {topk} = {len(queries) * topk} passages, more than "
                          f"{limits.max_hits} per request; send fewer queries or a smaller topk")


def parse_body(raw: bytes, limits: Limits) -> Any:
    """Decode a request body as JSON, within ``limits``.

    Raises:
        RequestError: Not UTF-8 JSON, nested too deeply, an integer literal too long, NaN/Infinity.
    """
    def bounded_int(text: str) -> int:
        digits = len(text.lstrip("-"))
        if digits > limits.max_int_digits:
            raise RequestError(f"an integer in the body has {digits} digits, at most {limits.max_int_digits} "
                               "are accepted")
        return int(text)

    def no_constant(name: str) -> Any:
        raise RequestError(f"{name} is not valid JSON")

    try:
        return json.loads(raw.decode("utf-8"), parse_int=bounded_int, parse_constant=no_constant)
    except RequestError:  # from bounded_int / no_constant
        raise
    except RecursionError:  # the C parser stops at the interpreter's recursion limit (~1000 levels)
        raise RequestError("the body nests JSON too deeply") from None
    except UnicodeDecodeError as e:
        raise RequestError(f"the body is not UTF-8: {e}") from None
    except ValueError as e:  # JSONDecodeError
        raise RequestError(f"the body is not valid JSON: {e}") from None


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
    if not queries:
        raise RequestError('"queries" is empty')
    if len(queries) > limits.max_queries:
        raise RequestError(f"too many queries: {len(queries)} > {limits.max_queries} per request")
    long = [i for i, q in enumerate(queries) if len(q) > limits.max_query_chars]
    if long:
        raise RequestError(f"query {long[0]} is longer than {limits.max_query_chars} characters")
    topk = body.get("topk", limits.default_topk)
    if topk is None:
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
            queries, topk, with_scores = parse_request(parse_body(raw, limits), limits)
            check_hits(queries, topk, limits)
        except TooManyHits as e:
            return error(413, str(e))
        except RequestError as e:
            return error(400, str(e))
        results = retriever.search(queries, topk)
        if with_scores:
            out = [[h.to_json(True) for h in hits] for hits in results]
        else:
            out = [[h.to_json(False)["document"] for h in hits] for hits in results]
        data = json.dumps({"result": out}).encode()  # ASCII, as flask.jsonify
        if len(data) > limits.max_response_bytes:
            return error(413, f"the response would be {len(data)} bytes, more than "
                              f"{limits.max_response_bytes}; send fewer queries or a smaller topk")
        return flask.Response(data, mimetype="application/json")

    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _int_at_least(low: int):
    """An argparse type: an integer >= ``low``, with a message naming the bound."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {v}")
        return v

    return parse


def _port(text: str) -> int:
    v = _int_at_least(0)(text)
    if v > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {v}")
    return v


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-serve retrieval``: serve a corpus over Search-R1's ``/retrieve`` API."""
    from empg_gym.serve.wsgi import ServerOptions

    pos = _int_at_least(1)
    p = argparse.ArgumentParser(prog="empg-serve retrieval", description=main.__doc__)
    p.add_argument(
        "--corpus",
        default="generated",
        help='corpus JSONL (Search-R1 format), or "generated" for the DeepSearch world (default)',
    )
    p.add_argument("--retriever", default="bm25s", choices=("bm25s", "pyserini", "dense"))
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument(
        "--cache-dir", default=None, help="index cache folder (default $EMPG_CACHE or ~/.cache/empg_gym)"
    )
    p.add_argument("--world-seed", type=int, default=0)
    p.add_argument("--world-size", type=pos, default=400)
    p.add_argument("--topk", type=pos, default=3, help="topk when a request has none")
    p.add_argument("--max-queries", type=pos, default=Limits.max_queries)
    p.add_argument("--max-topk", type=pos, default=Limits.max_topk)
    p.add_argument("--max-body-bytes", type=pos, default=Limits.max_body_bytes)
    p.add_argument("--max-query-chars", type=pos, default=Limits.max_query_chars)
    p.add_argument("--max-hits", type=pos, default=Limits.max_hits,
                   help="most passages per response (queries x topk); more is a 413")
    p.add_argument("--max-response-bytes", type=pos, default=Limits.max_response_bytes,
                   help="largest response body; a request whose response would be larger is a 413")
    d = ServerOptions()
    p.add_argument("--threads", type=pos, default=d.threads, help="worker threads (bounded pool)")
    p.add_argument("--connection-limit", type=pos, default=d.connection_limit, help="most open connections")
    p.add_argument("--idle-timeout", type=pos, default=d.idle_timeout,
                   help="seconds before an idle connection is closed")
    p.add_argument("--request-timeout", type=pos, default=d.request_timeout,
                   help="seconds a client may take to send a whole request (headers and body)")
    args = p.parse_args(argv)
    if args.topk > args.max_topk:
        p.error(f"--topk {args.topk} is larger than --max-topk {args.max_topk}")
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
    limits = Limits(args.max_body_bytes, args.max_queries, args.max_topk, args.max_query_chars, args.topk,
                    args.max_hits, args.max_response_bytes)
    options = ServerOptions(threads=args.threads, connection_limit=args.connection_limit,
                            idle_timeout=args.idle_timeout, request_timeout=args.request_timeout,
                            max_body_bytes=max(ServerOptions.max_body_bytes, 2 * args.max_body_bytes))
    if not _is_loopback(args.host):
        print(
            f"empg-serve: WARNING: listening on {args.host}, reachable from other machines; "
            "the server has no authentication",
            file=sys.stderr,
        )
    from empg_gym.serve.wsgi import make_server

    app = create_app(retriever, limits, len(corpus))
    try:
        server = make_server(app, "127.0.0.1" if args.host == "localhost" else args.host, args.port, options)
    except OSError as e:
        print(f"empg-serve: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    print(
        f"empg-serve: {args.retriever} over {len(corpus)} passages ready in "
        f"{time.perf_counter() - t0:.1f} s; "
        f"POST http://{args.host}:{server.port}/retrieve ({args.threads} worker threads)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0
