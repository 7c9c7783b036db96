"""Abuse of the /retrieve server: malformed bodies, amplification, idle and slow sockets, bad CLI values.

Everything runs on 127.0.0.1 with short timeouts; every socket wait has a timeout, so no test can hang.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

pytest.importorskip("flask")
pytest.importorskip("bm25s")
pytest.importorskip("waitress")

from empg_gym.retrieval import Corpus, make_retriever  # noqa: E402
from empg_gym.serve.retrieval import Limits, create_app, main  # noqa: E402
from empg_gym.serve.wsgi import ServerOptions, make_server  # noqa: E402

ROWS = [
    {"id": "0", "contents": '"Zorvath"\nZorvath is a city on the river Quell.'},
    {"id": "1", "contents": '"Mira Tolk"\nMira Tolk was born in Zorvath.'},
    {"id": "2", "contents": '"Quell"\nThe Quell is a long river.'},
    {"id": "3", "contents": '"Elsewhere"\nNothing in common here at all.'},
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    return make_retriever("bm25s", Corpus.from_rows(ROWS), cache_dir=tmp_path_factory.mktemp("idx"))


def _post(app, body: bytes):
    r = app.test_client().post("/retrieve", data=body, content_type="application/json")
    return r.status_code, r.get_json()


# ----------------------------------------------------------------------------------- malformed bodies
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"[" * 1_000_000, "too deeply"),
        (b'{"a":' * 300_000, "too deeply"),
        (b'{"queries": ' + b"[" * 5000 + b"]" * 5000 + b"}", "too deeply"),
        (b'{"queries": ["a"], "topk": ' + b"9" * 5000 + b"}", "5000 digits"),
        (b'{"queries": ["a"], "topk": -' + b"9" * 5000 + b"}", "5000 digits"),
        (b'{"queries": ["a"], "topk": 1234567890123456789}', "19 digits"),
        (b'{"queries": ["a"], "topk": 1e999}', "topk"),
        (b'{"queries": ["a"], "topk": 3.0}', "topk"),
        (b'{"queries": ["a"], "topk": NaN}', "NaN is not valid JSON"),
        (b'{"queries": ["a"], "topk": -Infinity}', "Infinity is not valid JSON"),
        (b'{"queries": [1e999]}', "list of strings"),
        (b'{"queries": ["a"], "topk": null, "return_scores": 1}', "return_scores"),
        (b"\xff\xfe\x00{", "not UTF-8"),
        (b'{"queries": ["caf\xe9"]}', "not UTF-8"),
        (b"", "not valid JSON"),
        (b"null", "JSON object"),
        (b'"queries"', "JSON object"),
        (b'{"queries": ["a"]} trailing', "not valid JSON"),
    ],
)
def test_malformed_bodies_get_400_json(retriever, body, needle):
    app = create_app(retriever, Limits(max_body_bytes=2 << 20))
    status, payload = _post(app, body)
    assert status == 400 and needle in payload["error"], payload


@pytest.mark.parametrize("query", ["", "   ", "?!.,;", "\ud800 lone", "\x00\x01", "日本語の質問", "a" * 4096])
def test_odd_but_valid_queries_answer_200(retriever, query):
    app = create_app(retriever)
    r = app.test_client().post("/retrieve", data=json.dumps({"queries": [query], "topk": 2}),
                               content_type="application/json")
    assert r.status_code == 200
    assert len(r.get_json()["result"]) == 1 and len(r.get_json()["result"][0]) <= 2


# -------------------------------------------------------------------------------------- amplification
def test_too_many_passages_per_request_is_413_before_searching(retriever):
    app = create_app(retriever, Limits(max_hits=8))
    ok = {"queries": ["river", "Zorvath"], "topk": 4}  # 8 passages: allowed
    assert _post(app, json.dumps(ok).encode())[0] == 200
    status, payload = _post(app, json.dumps({"queries": ["river", "Zorvath", "Quell"], "topk": 3}).encode())
    assert status == 413 and "3 queries x topk 3 = 9 passages, more than 8" in payload["error"]


def test_response_larger_than_the_limit_is_413_never_cut(retriever):
    body = {"queries": ["Zorvath river"], "topk": 2, "return_scores": False}
    full = create_app(retriever).test_client().post("/retrieve", json=body)
    n = len(full.data)  # exactly the JSON the server would send
    want = [[{"id": "0", "contents": ROWS[0]["contents"]}, {"id": "2", "contents": ROWS[2]["contents"]}]]
    assert full.status_code == 200 and json.loads(full.data) == {"result": want}
    assert create_app(retriever, Limits(max_response_bytes=n)).test_client().post(
        "/retrieve", json=body).status_code == 200
    r = create_app(retriever, Limits(max_response_bytes=n - 1)).test_client().post("/retrieve", json=body)
    assert r.status_code == 413 and f"would be {n} bytes, more than {n - 1}" in r.get_json()["error"]


def test_default_limits_refuse_the_issues_amplification(retriever):
    """512 queries x topk 100 (a 91 KB request in the issue gave a 30 MB response) is refused up front."""
    body = json.dumps({"queries": ["river " * 25] * 512, "topk": 100}).encode()
    status, payload = _post(create_app(retriever, Limits(max_body_bytes=2 << 20)), body)
    assert status == 413 and "51200 passages" in payload["error"]


# ------------------------------------------------------------------------------- the real server (waitress)
@pytest.fixture
def live(retriever):
    """Start a server with short timeouts in a thread; yields (port, server)."""
    servers = []

    def start(**kw):
        opts = ServerOptions(**{"threads": 2, "connection_limit": 64, "idle_timeout": 1, "request_timeout": 1,
                                "max_header_bytes": 4096, "max_body_bytes": 8192, **kw})
        srv = make_server(create_app(retriever, Limits(max_body_bytes=4096)), "127.0.0.1", 0, opts)
        t = threading.Thread(target=srv.run, daemon=True)
        t.start()
        servers.append((srv, t))
        return srv.port, srv

    yield start
    for srv, t in servers:
        srv.stop()
        t.join(10)
        assert not t.is_alive()


def _retrieve(port: int, body: dict, timeout: float = 10) -> tuple[int, dict]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/retrieve", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def _closed_by_server(s: socket.socket, deadline: float) -> bool:
    """Wait (at most until ``deadline``) for the server to close ``s``: recv returns b"" or resets."""
    try:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_served_over_http_with_json_errors(live):
    port, _ = live()
    assert _retrieve(port, {"queries": ["Quell"], "topk": 1})[1] == {
        "result": [[{"id": "2", "contents": ROWS[2]["contents"]}]]}
    status, body = _retrieve(port, {"queries": ["a"], "topk": int("9" * 30)})
    assert status == 400 and "30 digits" in body["error"]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/retrieve", b"[" * 4000, {"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 400 and "too deeply" in json.loads(r.read())["error"]
    c.close()


@pytest.mark.slow
def test_idle_connections_are_closed_and_use_no_threads(live):
    port, _ = live(connection_limit=256)
    threads_before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(200)]
    try:
        for s in idle[100:]:  # half send nothing, half an incomplete request head
            s.sendall(b"POST /retrieve HTTP/1.1\r\nHost: x\r\n")
        assert threading.active_count() <= threads_before + 2  # no thread per connection
        assert _retrieve(port, {"queries": ["Zorvath"], "topk": 1})[0] == 200  # served meanwhile
        deadline = time.monotonic() + 8  # timeouts of 1 s, swept every 1 s
        assert all(_closed_by_server(s, deadline) for s in idle)
        assert _retrieve(port, {"queries": ["Zorvath"], "topk": 1})[0] == 200
    finally:
        for s in idle:
            s.close()


@pytest.mark.slow
def test_slow_loris_request_is_cut_by_the_request_timeout(live):
    port, _ = live(idle_timeout=30, request_timeout=1)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = b"POST /retrieve HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    t0 = time.monotonic()
    closed = False
    for i in range(len(head)):  # one byte, then wait up to 0.2 s for the server to hang up
        try:
            s.sendall(head[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if _closed_by_server(s, time.monotonic() + 0.2):
            closed = True
            break
    s.close()
    elapsed = time.monotonic() - t0
    assert closed and elapsed < 6, elapsed  # active all along, so only the request timeout closes it
    assert _retrieve(port, {"queries": ["Zorvath"], "topk": 1})[0] == 200


def test_oversized_head_and_body_are_refused(live):
    port, _ = live()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/retrieve", b"{}", {"X-Big": "a" * 8000})
    assert c.getresponse().status == 431
    c.close()
    status, body = _retrieve(port, {"queries": ["a" * 5000]})  # over the app's 4096-byte body limit
    assert status == 413 and "larger than 4096 bytes" in body["error"]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/retrieve", b"x" * 9000, {"Content-Type": "application/json"})  # over waitress's
    assert c.getresponse().status == 413
    c.close()


# ------------------------------------------------------------------------------------------ CLI values
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--port", "-1"], "--port: must be >= 0"),
        (["--port", "70000"], "at most 65535"),
        (["--port", "eighty"], "expected an integer"),
        (["--threads", "0"], "--threads: must be >= 1"),
        (["--topk", "0"], "--topk: must be >= 1"),
        (["--idle-timeout", "-5"], "--idle-timeout: must be >= 1"),
        (["--max-hits", "1e9"], "expected an integer"),
        (["--topk", "50", "--max-topk", "10"], "larger than --max-topk"),
    ],
)
def test_bad_cli_values_are_clear(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and needle in capsys.readouterr().err


def test_bad_corpus_files_are_clear(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    binary = tmp_path / "corpus.jsonl"
    binary.write_bytes(bytes(range(256)) * 40)
    assert main(["--corpus", str(binary)]) == 2
    err = capsys.readouterr().err
    assert str(binary) in err and "Traceback" not in err
