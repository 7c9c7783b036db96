"""The openai backend against a small chat-completions server on loopback (flask, in a thread)."""

from __future__ import annotations

import threading

import pytest

flask = pytest.importorskip("flask")
pytest.importorskip("requests")

import empg_gym  # noqa: E402,F401
from empg_gym.policy import load_agent  # noqa: E402
from empg_gym.policy.openai import EndpointError  # noqa: E402
from empg_gym.rollout import collect  # noqa: E402
from empg_gym.types import History  # noqa: E402


class Server:
    """Answers per model name: ``expert-ish`` plays the first admissible action (stop string cut off, as
    the protocol does), ``flaky`` fails twice with 503 first, ``garbage`` returns non-JSON, ``hang`` never
    answers in time, ``missing`` is an unknown model (404)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.fails = {"flaky": 2}
        self.release = threading.Event()
        app = flask.Flask("fake-openai")

        @app.post("/v1/chat/completions")
        def chat():
            body = flask.request.get_json()
            self.requests.append(body)
            self.headers.append(dict(flask.request.headers))
            model = body["model"]
            if model == "missing":
                return {"error": {"message": "model not found"}}, 404
            if model == "garbage":
                return "<html>oops</html>", 200
            if model == "hang":
                self.release.wait(5)
                return {"choices": []}
            if self.fails.get(model, 0) > 0:
                self.fails[model] -= 1
                return {"error": "busy"}, 503
            user = body["messages"][-1]["content"]
            first = user.split("admissible actions in the current situation are: [\n'", 1)[1].split("'", 1)[0]
            content = f"<think>try {first}</think>\n<action>{first}"  # cut at the stop string </action>
            return {"id": "x", "object": "chat.completion",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}]}

        from werkzeug.serving import make_server

        self.srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.srv.server_port}/v1"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.srv.shutdown()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.close()


def spec(server, model, **kw):
    return {"backend": "openai", "model": model, "base_url": server.url, "timeout": 2.0, "max_retries": 2,
            "extra": {"backoff": 0.0}, "sampling": {"temperature": 0.5, "max_new_tokens": 64}, **kw}


def test_rollout_through_the_endpoint(server, monkeypatch):
    monkeypatch.setenv("EMPG_TEST_KEY", "sk-test")
    agent = load_agent(spec(server, "expert-ish", api_key_env="EMPG_TEST_KEY"))
    trajs = collect(agent, "empg/KeyDoor-v0", tasks=2, group_size=2, max_steps=2, progress=False)
    assert len(trajs) == 4
    for t in trajs:
        for turn in t.turns:
            assert turn.format_valid and turn.action_valid
            assert turn.response.endswith("</action>")  # the cut stop string was appended back
            assert turn.action == turn.admissible_actions[0]
            assert turn.token_ids == () and turn.logprobs == ()
    req = server.requests[-1]
    assert req["model"] == "expert-ish" and req["stop"] == ["</action>"] and req["temperature"] == 0.5
    assert req["max_tokens"] == 64 and req["messages"][0]["role"] == "user"
    assert server.headers[-1]["Authorization"] == "Bearer sk-test"


def test_retries_then_succeeds(server):
    agent = load_agent(spec(server, "flaky"))
    h = History("empg/KeyDoor-v0", "t", (), "o", ("go east",))
    (s,) = agent.act([h])
    assert s.format_valid and s.action == "go east"
    assert server.fails["flaky"] == 0


def test_garbage_and_timeouts_become_invalid_actions_not_crashes(server):
    h = History("empg/KeyDoor-v0", "t", (), "o", ("go east",))
    n = len(server.requests)
    (s,) = load_agent(spec(server, "garbage")).act([h])
    assert (s.text, s.action, s.format_valid) == ("", "", False)
    assert len(server.requests) - n == 3  # 1 + max_retries
    (s,) = load_agent(spec(server, "hang", timeout=0.3, max_retries=0)).act([h])
    assert not s.format_valid


def test_wrong_model_is_a_clear_error(server):
    h = History("empg/KeyDoor-v0", "t", (), "o", ("go east",))
    with pytest.raises(EndpointError, match="HTTP 404"):
        load_agent(spec(server, "missing")).act([h])


def test_unreachable_endpoint_gives_invalid_actions_then_is_declared_down():
    from empg_gym.agent import AgentError
    from empg_gym.policy.openai import EndpointDown

    agent = load_agent({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
                        "timeout": 0.5,
                        "max_retries": 1, "extra": {"backoff": 0.0, "max_consecutive_failures": 3}})
    h = History("empg/KeyDoor-v0", "t", (), "o", ("go east",))
    out = agent.act([h] * 2)  # a flaky moment: invalid actions, the rollout goes on
    assert [s.format_valid for s in out] == [False, False]
    with pytest.raises(EndpointDown, match="looks down: 3 requests in a row failed after 1 retries") as e:
        agent.act([h])  # the third failure in a row: the endpoint is down, not flaky
    assert isinstance(e.value, AgentError)


def test_a_success_resets_the_failure_count(server):
    h = History("empg/KeyDoor-v0", "t", (), "o", ("go east",))
    extra = {"backoff": 0.0, "max_consecutive_failures": 2}
    agent = load_agent(spec(server, "garbage", max_retries=0, extra=extra))
    assert not agent.act([h])[0].format_valid  # one failure
    agent.spec = agent.spec.replace(model="m")  # the same agent now reaches a healthy model
    agent.act([h])
    assert agent._failures == 0
