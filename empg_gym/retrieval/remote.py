"""A retriever that asks a server speaking Search-R1's ``POST /retrieve`` API.

Request ``{"queries": [...], "topk": k, "return_scores": true}``; response
``{"result": [[{"document": {"id", "contents"}, "score"}, ...], ...]}`` (Search-R1's
``search_r1/search/retrieval_server.py``; ``empg-serve retrieval`` speaks the same). Uses only the standard
library. Queries are sent in batches of at most ``max_batch`` per request.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence

from empg_gym.retrieval import Hit


class RemoteRetriever:
    """Client of a ``/retrieve`` server.

    Args:
        url: The endpoint, e.g. ``http://127.0.0.1:8000/retrieve`` (a bare ``host:port`` gets ``/retrieve``).
        timeout: Seconds per request (Search-R1 / verl-agent use 60).
        max_batch: Queries per request.
    """

    name = "remote"

    def __init__(
        self, url: str = "http://127.0.0.1:8000/retrieve", *, timeout: float = 60.0, max_batch: int = 64
    ) -> None:
        if "://" not in url:
            url = "http://" + url
        if not url.rstrip("/").endswith("/retrieve"):
            url = url.rstrip("/") + "/retrieve"
        self.url = url
        self.timeout = timeout
        self.max_batch = max_batch

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` hits per query from the server.

        Raises:
            ConnectionError: The server is unreachable or answered with an error (its message included).
        """
        out: list[list[Hit]] = []
        for start in range(0, len(queries), self.max_batch):
            batch = list(queries[start : start + self.max_batch])
            body = json.dumps({"queries": batch, "topk": int(k), "return_scores": True}).encode()
            req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    payload = json.loads(r.read())
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:500]
                raise ConnectionError(f"{self.url} answered HTTP {e.code}: {detail}") from None
            except (urllib.error.URLError, OSError) as e:
                raise ConnectionError(f"cannot reach retrieval server {self.url}: {e}") from None
            result = payload.get("result") if isinstance(payload, dict) else None
            if not isinstance(result, list) or len(result) != len(batch):
                raise ConnectionError(f"{self.url} sent a malformed response (expected 'result' per query)")
            for items in result:
                hits = []
                for it in items:
                    doc = it.get("document", it) if isinstance(it, dict) else {}
                    hits.append(
                        Hit(
                            str(doc.get("id", "")),
                            str(doc.get("contents", "")),
                            float(it.get("score", 0.0)) if isinstance(it, dict) else 0.0,
                        )
                    )
                out.append(hits)
        return out
