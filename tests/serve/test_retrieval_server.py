"""The /retrieve server: Search-R1's request/response shapes over real HTTP, limits and JSON errors."""

from __future__ import annotations

import json
import threading

import pytest

pytest.importorskip("flask")
pytest.importorskip("bm25s")

from empg_gym.envs.deepsearch.protocol import format_information  # noqa: E402
from empg_gym.retrieval import Corpus, make_retriever  # noqa: E402
from empg_gym.retrieval.remote import RemoteRetriever  # noqa: E402
from empg_gym.serve.retrieval import Limits, create_app  # noqa: E402

ROWS = [
    {"id": "0", "contents": '"Zorvath"\nZorvath is a city on the river Quell.'},
    {"id": "1", "contents": '"Mira Tolk"\nMira Tolk was born in Zorvath.'},
    {"id": "2", "contents": '"Quell"\nThe Quell is a long river.'},
    {"id": "3", "contents": '"Elsewhere"\nNothing in common here at all.'},
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    return make_retriever("bm25s", Corpus.from_rows(ROWS), cache_dir=tmp_path_factory.mktemp("idx"))


@pytest.fixture(scope="module")
def server(retriever):
    from werkzeug.serving import make_server

    srv = make_server(
        "127.0.0.1",
        0,
        create_app(retriever, Limits(max_queries=4, max_topk=5, max_body_bytes=2000)),
        threaded=True,
    )
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    t.join(5)


def test_search_r1_client_over_http(server, retriever):
    """As Search-R1's generation.py: requests.post(url, json=payload).json()["result"], then formats."""
    requests = pytest.importorskip("requests")
    payload = {"queries": ["Zorvath river", "Mira Tolk"], "topk": 2, "return_scores": True}
    result = requests.post(f"{server}/retrieve", json=payload, timeout=10).json()["result"]
    assert [[d["document"]["id"] for d in r] for r in result] == [["0", "2"], ["1"]]
    assert all(isinstance(d["score"], float) and d["score"] > 0 for r in result for d in r)
    assert result == [[h.to_json() for h in hits] for hits in retriever.search(payload["queries"], 2)]
    # Search-R1's _passages2string over the documents, as the agent sees it
    info = format_information([d["document"]["contents"] for d in result[1]])
    assert info == '<information>Doc 1(Title: "Mira Tolk") Mira Tolk was born in Zorvath.</information>'


def test_defaults_and_plain_documents(server):
    import urllib.request

    req = urllib.request.Request(f"{server}/retrieve", data=json.dumps({"queries": ["zorvath"]}).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        body = json.loads(r.read())
    assert body == {
        "result": [
            [{"id": "0", "contents": ROWS[0]["contents"]}, {"id": "1", "contents": ROWS[1]["contents"]}]
        ]
    }  # topk 3, no scores


def test_remote_retriever_matches_local(server, retriever):
    remote = RemoteRetriever(server.removeprefix("http://"), max_batch=3)
    qs = ["river", "Zorvath", "Tolk", "nothing matches xyz", "Quell"]
    assert remote.search(qs, 3) == retriever.search(qs, 3)


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"topk": 3}', 400, "missing"),
        (b'{"queries": "abc"}', 400, "list of strings"),
        (b'{"queries": ["a", "b", "c", "d", "e"]}', 400, "too many queries"),
        (b'{"queries": ["a"], "topk": -1}', 400, "topk"),
        (b'{"queries": ["a"], "topk": 6}', 400, "topk"),
        (b'{"queries": ["a"], "topk": "3"}', 400, "integer"),
        (b'{"queries": ["a"], "return_scores": "yes"}', 400, "return_scores"),
        (b'{"queries": ["' + b"x" * 3000 + b'"]}', 413, "larger than"),
    ],
)
def test_bad_requests_get_json_errors(retriever, body, status, needle):
    app = create_app(retriever, Limits(max_queries=4, max_topk=5, max_body_bytes=2000))
    r = app.test_client().post("/retrieve", data=body, content_type="application/json")
    assert r.status_code == status and needle in r.get_json()["error"]


def test_search_r1_fallbacks_topk_0_and_no_queries(retriever):
    """As Search-R1's server: ``topk: 0`` means the default (3); ``queries: []`` is a 200 with []."""
    c = create_app(retriever, Limits(max_topk=5, default_topk=3)).test_client()
    r = c.post("/retrieve", json={"queries": ["Quell"], "topk": 0})
    assert r.status_code == 200
    assert r.get_json() == c.post("/retrieve", json={"queries": ["Quell"], "topk": 3}).get_json()
    r = c.post("/retrieve", json={"queries": [], "topk": 3})
    assert r.status_code == 200 and r.get_json() == {"result": []}


def test_other_routes(retriever):
    c = create_app(retriever, n_passages=4).test_client()
    assert c.get("/health").get_json() == {"status": "ok", "retriever": "bm25s", "passages": 4}
    assert c.get("/retrieve").status_code == 405 and "POST" in c.get("/retrieve").get_json()["error"]
    assert c.get("/nope").status_code == 404
    ok = c.post("/retrieve", json={"query": "Quell", "topk": 1, "return_scores": True}).get_json()
    assert ok["result"][0][0]["document"]["id"] == "2"  # verl-agent's single-query shape


def test_remote_errors_are_clear(server):
    with pytest.raises(ConnectionError, match="HTTP 400"):
        RemoteRetriever(server).search(["a"], 50)
    with pytest.raises(ConnectionError, match="cannot reach"):
        RemoteRetriever("http://127.0.0.1:9", timeout=2).search(["a"], 1)


def test_env_with_remote_retriever_sees_what_local_sees(tmp_path):
    from werkzeug.serving import make_server

    from empg_gym.envs.deepsearch.env import DeepSearchEnv, get_world

    world, _ = get_world(0, 400)
    local = make_retriever("bm25s", Corpus.from_rows(world.passages), cache_dir=tmp_path)
    srv = make_server("127.0.0.1", 0, create_app(local), threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        remote_env = DeepSearchEnv(
            retriever="remote", retriever_kwargs={"url": f"127.0.0.1:{srv.server_port}"}
        )
        local_env = DeepSearchEnv(retriever_kwargs={"cache_dir": str(tmp_path)})
        for env in (remote_env, local_env):
            env.reset(options={"task_index": 3})
        for _ in range(3):
            a = local_env.expert_action()
            assert remote_env.expert_action() == a
            assert remote_env.step(a)[0] == local_env.step(a)[0]
    finally:
        srv.shutdown()
        t.join(5)
