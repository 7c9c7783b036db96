"""Load test of ``empg-serve retrieval``: concurrent Search-R1-style clients on loopback.

    python benchmarks/serve_load.py [--clients 32] [--requests 25] [--corpus generated] [--world-size 6000]
                                    [--queries-per-request 1] [--topk 3]

Starts the server in a subprocess (``python -m empg_gym.serve retrieval ...`` equivalent) on a free loopback
port, waits for ``/health``, then ``--clients`` threads each send ``--requests`` POSTs to ``/retrieve`` with
Search-R1's body (``{"queries": [...], "topk": 3, "return_scores": true}``; questions of the generated
world's test split, or of hotpotqa_ircot_500 with ``--corpus real``) over plain ``http.client`` keep-alive
connections, and check every answer (status 200, one result list per query, ``topk`` hits at most).
Reports throughput (requests/s and queries/s), latency p50/p90/p99/max, and errors (must be 0). Writes
``benchmarks/results/serve_load.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from empg_gym._io import write_json_atomic  # noqa: E402

DATA = Path(os.environ.get("EMPG_SEARCHQA_DATA", "/work/shared/data/searchqa"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions(corpus: str, world_size: int) -> list[str]:
    if corpus == "generated":
        from empg_gym.envs.deepsearch.world import generate_world, make_questions

        return [q.question for q in make_questions(generate_world(0, world_size), {"test": 400})["test"]]
    from empg_gym.envs.deepsearch.data import load_questions

    return [r.question for r in load_questions(DATA / "hotpotqa_ircot_500" / "questions.jsonl")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=25, help="requests per client")
    p.add_argument("--queries-per-request", type=int, default=1)
    p.add_argument("--topk", type=int, default=3)
    p.add_argument("--corpus", default="generated", choices=["generated", "real"])
    p.add_argument(
        "--world-size", type=int, default=6000, help="people in the generated world (~1.68x passages)"
    )
    p.add_argument("--retriever", default="bm25s")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "serve_load.json"))
    args = p.parse_args(argv)

    port = free_port()
    corpus_arg = (
        "generated" if args.corpus == "generated" else str(DATA / "hotpotqa_ircot_500" / "corpus.jsonl")
    )
    code = (
        "import sys; from empg_gym.serve import main; "
        f"sys.exit(main(['retrieval', '--corpus', {corpus_arg!r}, '--world-size', '{args.world_size}', "
        f"'--retriever', {args.retriever!r}, '--port', '{port}']))"
    )
    log_path = Path(tempfile.gettempdir()) / f"empg_serve_load_{port}.log"
    log = open(log_path, "w")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/health")
                health = json.loads(c.getresponse().read())
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"server did not start; see {log_path}") from None
                time.sleep(0.2)
        qs = questions(args.corpus, args.world_size)
        lat: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients + 1)

        def client(cid: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine, bad = [], []
            barrier.wait()
            for i in range(args.requests):
                n = (cid * args.requests + i) * args.queries_per_request
                batch = [qs[(n + j) % len(qs)] for j in range(args.queries_per_request)]
                body = json.dumps({"queries": batch, "topk": args.topk, "return_scores": True})
                t = time.perf_counter()
                try:
                    conn.request("POST", "/retrieve", body, {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                    dt = time.perf_counter() - t
                    res = json.loads(data).get("result") if r.status == 200 else None
                    if (
                        r.status != 200
                        or not isinstance(res, list)
                        or len(res) != len(batch)
                        or any(len(x) > args.topk for x in res)
                    ):
                        bad.append(f"status {r.status}: {data[:200]!r}")
                    else:
                        mine.append(dt)
                except (OSError, http.client.HTTPException, json.JSONDecodeError) as e:
                    bad.append(repr(e))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                lat.extend(mine)
                errors.extend(bad)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(10)
        log.close()
    total = args.clients * args.requests
    ms = np.array(lat) * 1000
    res = {
        "command": "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "server": "waitress, 8 worker threads (empg-serve retrieval defaults), loopback",
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "retriever": args.retriever,
        "passages": health.get("passages"),
        "clients": args.clients,
        "requests": total,
        "queries_per_request": args.queries_per_request,
        "topk": args.topk,
        "errors": len(errors),
        "wall_s": round(wall, 2),
        "requests_per_s": round(total / wall, 1),
        "queries_per_s": round(total * args.queries_per_request / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
        "p90_ms": round(float(np.percentile(ms, 90)), 1) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
        "max_ms": round(float(ms.max()), 1) if len(ms) else None,
        "first_errors": errors[:5],
    }
    print(
        "| clients | requests | passages | errors | req/s | q/s | p50 ms | p90 ms | p99 ms | max ms |\n|"
        + "---|" * 10
    )
    print(
        f"| {res['clients']} | {total} | {res['passages']} | {res['errors']} | {res['requests_per_s']} | "
        f"{res['queries_per_s']} | {res['p50_ms']} | {res['p90_ms']} | {res['p99_ms']} | {res['max_ms']} |"
    )
    out = Path(args.out)
    write_json_atomic(out, res, indent=2)
    print(f"wrote {out}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
