"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint (vLLM serve, llama.cpp, APIs).

Each history becomes one ``POST {base_url}/chat/completions`` with the template's chat messages; the
requests of a batch run concurrently (``extra.concurrency``, default 8). It speaks the protocol with
``requests``, so no client library is needed.

- Key: read from the environment variable ``api_key_env`` (default ``OPENAI_API_KEY``) and sent as a bearer
  token; absent is fine for local servers.
- Timeouts and retries: each request has ``timeout`` seconds; connection errors, timeouts, HTTP 408/429/5xx
  and malformed bodies are retried up to ``max_retries`` times with exponential backoff (``extra.backoff``
  seconds, default 0.5, doubling). When the retries are used up the turn becomes an empty, format-invalid
  action (logged as a warning): a flaky endpoint never crashes or hangs a rollout. But an endpoint that is
  *down* is not flaky: after ``extra.max_consecutive_failures`` (default 8) requests in a row gave up, with
  no success in between, :class:`EndpointDown` is raised, so an evaluation fails loudly instead of recording
  a 0% result. Other HTTP errors (401, 404, 400: a wrong key, URL or model) raise :class:`EndpointError` at
  once, since no retry can fix them. Both are :class:`~empg_gym.agent.AgentError`.
- Stop strings: the protocol's ``stop`` cuts the stop string off the returned text; when the response stopped
  on one and appending it makes the response parse, it is appended back (so ``<action>go east`` stopped at
  ``</action>`` parses as ``go east``).
- Token ids, log-probs and entropies are not recorded (an endpoint gives at most the top-20 log-probs, which
  do not determine the full-vocabulary entropy); use the ``transformers`` or ``vllm`` backend for training.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from empg_gym.agent import ActionSample, AgentError
from empg_gym.prompting import get_template
from empg_gym.types import History

if TYPE_CHECKING:
    from empg_gym.policy import AgentSpec

__all__ = ["EndpointDown", "EndpointError", "OpenAIAgent"]

logger = logging.getLogger(__name__)

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class EndpointError(AgentError):
    """The endpoint refused a request in a way retries cannot fix (wrong key, URL or model)."""


class EndpointDown(EndpointError):
    """``max_consecutive_failures`` requests in a row failed after all their retries: the endpoint is down."""


class _Transient(Exception):
    """A failure worth retrying."""


class OpenAIAgent:
    """An agent backed by an OpenAI-compatible chat endpoint.

    Args:
        spec: The :class:`~empg_gym.policy.AgentSpec` (``model``, ``base_url``, ``api_key_env``, ``timeout``,
            ``max_retries``, ``sampling``, ``prompt``, ``history_length``; ``extra.concurrency``,
            ``extra.backoff``).
    """

    needs_expert = False

    def __init__(self, spec: AgentSpec) -> None:
        import requests  # a base dependency of transformers and of most installs; imported only here

        if not spec.base_url:
            raise ValueError("the openai backend needs base_url, e.g. http://127.0.0.1:8000/v1")
        self.spec = spec
        self.name = spec.display_name
        self.url = spec.base_url.rstrip("/") + "/chat/completions"
        self.concurrency = int(spec.extra.get("concurrency", 8))
        self.backoff = float(spec.extra.get("backoff", 0.5))
        self.max_consecutive_failures = int(spec.extra.get("max_consecutive_failures", 8))
        self._failures = 0  # requests in a row that gave up
        self._last_error = ""
        self._lock = threading.Lock()
        self._session = requests.Session()
        key = os.environ.get(spec.api_key_env, "")
        if key:
            self._session.headers["Authorization"] = f"Bearer {key}"
        s = dict(spec.sampling)
        temperature = 0.0 if s.get("greedy") else float(s.get("temperature", 1.0))
        self.params: dict[str, Any] = {"temperature": temperature, "top_p": float(s.get("top_p", 1.0)),
                                       "max_tokens": int(s.get("max_new_tokens", 256))}
        self.extra_stop = tuple(s.get("stop", ()) or ())
        self._seed = spec.seed

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> OpenAIAgent:
        """Build from a spec."""
        return cls(spec)

    def set_seed(self, seed: int) -> None:
        """Sent as the request ``seed`` (endpoints that support it sample reproducibly)."""
        self._seed = int(seed)

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        import requests

        try:
            r = self._session.post(self.url, json=payload, timeout=self.spec.timeout)
        except (requests.ConnectionError, requests.Timeout) as e:
            raise _Transient(f"{type(e).__name__}: {e}") from e
        if r.status_code in _RETRY_STATUS:
            raise _Transient(f"HTTP {r.status_code}: {r.text[:200]}")
        if r.status_code >= 400:
            raise EndpointError(f"{self.url} answered HTTP {r.status_code}: {r.text[:300]}")
        try:
            body = r.json()
            choice = body["choices"][0]
            content = choice["message"]["content"]
            if not isinstance(content, str):
                raise TypeError(f"content is {type(content).__name__}")
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise _Transient(f"malformed response ({e}): {r.text[:200]!r}") from e
        return {"content": content, "finish_reason": choice.get("finish_reason")}

    def _one(self, history: History, k: int) -> ActionSample:
        template = get_template(self.spec.prompt, history.env_id)
        messages = template.messages(history, self.spec.history_length)
        stop = list(dict.fromkeys(list(template.stop) + list(self.extra_stop)))[:4]  # the API allows 4
        payload = {"model": self.spec.model, "messages": messages, "stop": stop or None,
                   "seed": self._seed + k, **self.params}
        prompt = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)
        delay = self.backoff
        for attempt in range(self.spec.max_retries + 1):
            try:
                out = self._post(payload)
                with self._lock:
                    self._failures = 0
                break
            except _Transient as e:
                if attempt == self.spec.max_retries:
                    logger.warning("%s: giving up after %d attempts: %s", self.url, attempt + 1, e)
                    with self._lock:
                        self._failures += 1
                        self._last_error = str(e)
                    return ActionSample(text="", action="", format_valid=False, prompt=prompt)
                logger.info("%s: retrying (%s)", self.url, e)
                if delay > 0:
                    time.sleep(delay)
                delay *= 2
        text = out["content"]
        proj = template.parse(text, history)
        if not proj.format_valid and out["finish_reason"] == "stop":
            for s in stop:
                p2 = template.parse(text + s, history)
                if p2.format_valid:
                    text, proj = text + s, p2
                    break
        return ActionSample(text=text, action=proj.action, format_valid=proj.format_valid, prompt=prompt,
                            format_error=proj.error)

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        """One request per history, ``concurrency`` at a time.

        Raises:
            EndpointDown: ``max_consecutive_failures`` requests in a row gave up after their retries.
            EndpointError: The endpoint refused a request for good (HTTP 4xx other than 408/409/425/429).
        """
        if len(histories) <= 1 or self.concurrency <= 1:
            out = [self._one(h, k) for k, h in enumerate(histories)]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(histories))) as pool:
                out = list(pool.map(self._one, histories, range(len(histories))))
        if 0 < self.max_consecutive_failures <= self._failures:
            raise EndpointDown(f"{self.url} looks down: {self._failures} requests in a row failed after "
                               f"{self.spec.max_retries} retries each (last: {self._last_error}); check that "
                               "the server is running and base_url is right")
        return out
