"""Abuse of ``empg-serve retrieval`` on loopback: idle sockets, amplification, malformed bodies.

    python benchmarks/serve_abuse.py [--idle 1000] [--idle-timeout 5]

Starts the server in a subprocess (bm25s over the generated 400-person world) on a free loopback port, then:

1. opens ``--idle`` connections that send nothing, and reads the server process's thread count and RSS
   (``/proc``) while they are open; checks that a normal request is answered meanwhile; waits for the
   server to close them (``--idle-timeout``) and reports how many it closed and when;
2. sends the issue's amplification request (512 queries x topk 100) and reports the status and size;
3. sends a deeply nested body and a 5000-digit ``topk`` and reports the statuses.

Prints a table and writes ``benchmarks/results/serve_abuse.json``. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from empg_gym._io import write_json_atomic  # noqa: E402


def _proc(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith(key)).split()[1])


def _post(port: int, body: bytes) -> tuple[int, int]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request("POST", "/retrieve", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, len(r.read())
    finally:
        c.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--idle", type=int, default=1000, help="idle connections to open")
    p.add_argument("--idle-timeout", type=int, default=5, help="the server's --idle-timeout")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "serve_abuse.json"))
    args = p.parse_args(argv)
    want = args.idle + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import resource, sys; s, h = resource.getrlimit(resource.RLIMIT_NOFILE); "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, (min({want}, h), h)); "
        "from empg_gym.serve import main; "
        f"sys.exit(main(['retrieval', '--port', '{port}', '--idle-timeout', '{args.idle_timeout}', "
        f"'--connection-limit', '{want}']))"
    )
    srv = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    try:
        assert srv.stderr is not None
        ready = srv.stderr.readline()
        if "ready" not in ready:
            print(ready + srv.stderr.read(), file=sys.stderr)
            return 1
        machine = f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        res: dict = {"command": " ".join(["python benchmarks/serve_abuse.py", *(argv or sys.argv[1:])]),
                     "machine": machine,
                     "load_avg_1m_before": round(os.getloadavg()[0], 2),
                     "idle_connections": args.idle, "idle_timeout_s": args.idle_timeout,
                     "server_threads_before": _proc(srv.pid, "Threads"),
                     "server_rss_mb_before": _proc(srv.pid, "VmRSS") // 1024}
        socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(args.idle)]
        t0 = time.monotonic()
        status, _ = _post(port, json.dumps({"queries": ["Zorvath"]}).encode())
        res.update(request_status_while_idle_open=status,
                   server_threads_while_idle_open=_proc(srv.pid, "Threads"),
                   server_rss_mb_while_idle_open=_proc(srv.pid, "VmRSS") // 1024)
        closed, last = 0, 0.0
        for s in socks:
            s.settimeout(max(0.1, 3 * args.idle_timeout + 5 - (time.monotonic() - t0)))
            try:
                if s.recv(1) == b"":
                    closed += 1
                    last = time.monotonic() - t0
            except ConnectionResetError:
                closed += 1
                last = time.monotonic() - t0
            except TimeoutError:
                pass
            s.close()
        res.update(idle_closed_by_server=closed, idle_all_closed_after_s=round(last, 1))
        big = json.dumps({"queries": ["river " * 25] * 512, "topk": 100}).encode()
        st, n = _post(port, big)
        res.update(amplification_request_bytes=len(big), amplification_status=st,
                   amplification_response_bytes=n)
        res["deep_nesting_status"] = _post(port, b"[" * 500_000)[0]
        res["huge_topk_status"] = _post(port, b'{"queries": ["a"], "topk": ' + b"9" * 5000 + b"}")[0]
        res["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    finally:
        srv.terminate()
        srv.wait(10)
    width = max(len(k) for k in res)
    for k, v in res.items():
        print(f"{k:<{width}}  {v}")
    write_json_atomic(args.out, res, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
