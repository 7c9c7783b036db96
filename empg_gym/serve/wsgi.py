"""A bounded production WSGI server for ``empg-serve`` (waitress, pure Python; the ``serve`` extra).

Why not Flask's development server: it spends one thread per connection and never times a connection
out, so a thousand idle sockets hold a thousand threads. waitress reads and writes every socket from one
asynchronous loop and hands only *complete* requests to a fixed pool of ``threads`` workers, so idle or
slow clients cost a socket, not a thread. On top of waitress's own limits this server adds a request
timeout:

- ``threads``: worker threads running the app (the bounded pool); further complete requests queue.
- ``connection_limit``: open connections at most; past it the server stops accepting until some close (the
  kernel's listen backlog holds new ones meanwhile).
- ``idle_timeout``: a connection with no request in progress and no traffic for this long is closed
  (waitress's ``channel_timeout``; checked every ``check_interval`` seconds).
- ``request_timeout``: a request whose headers and body have not fully arrived this long after its first
  byte is dropped and its connection closed (slow-loris clients that trickle bytes never look idle).
- ``max_header_bytes`` / ``max_body_bytes``: larger requests get waitress's 431/413 and are not buffered.

Timeouts are enforced by a periodic sweep, so a connection lives up to ``timeout + check_interval``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from empg_gym._optional import require


@dataclass(frozen=True)
class ServerOptions:
    """Connection handling of the server (see the module docstring).

    Attributes:
        threads: Worker threads running the app.
        connection_limit: Most open connections.
        idle_timeout: Seconds an idle connection stays open.
        request_timeout: Seconds from a request's first byte to its last.
        check_interval: Seconds between timeout sweeps.
        max_header_bytes: Largest request head (request line and headers).
        max_body_bytes: Largest request body waitress buffers (the app may have a lower limit).
    """

    threads: int = 8
    connection_limit: int = 256
    idle_timeout: int = 60
    request_timeout: int = 30
    check_interval: int = 1
    max_header_bytes: int = 16384
    max_body_bytes: int = 4 << 20

    def __post_init__(self) -> None:
        bad = [f"{k} must be >= 1, got {v!r}" for k, v in self.__dict__.items()
               if isinstance(v, bool) or not isinstance(v, int) or v < 1]
        if bad:
            raise ValueError("invalid server options: " + "; ".join(bad))


def make_server(app: Any, host: str = "127.0.0.1", port: int = 0,
                options: ServerOptions | None = None) -> Any:
    """A started (listening, not yet serving) server for ``app``; call ``.run()`` (blocks) and ``.stop()``.

    Args:
        app: A WSGI application.
        host: Bind address (an IP address).
        port: Port (0: a free one; read it from ``.port``).
        options: Connection handling.

    Returns:
        The server, with ``.port``, ``.run()`` and ``.stop()``.
    """
    require("waitress", "serve", why="the production WSGI server of empg-serve")
    from waitress import wasyncore
    from waitress.server import TcpWSGIServer

    opt = options or ServerOptions()

    class _Server(TcpWSGIServer):
        """waitress's TCP server with a request timeout and a stoppable loop."""

        def __init__(self) -> None:
            super().__init__(
                app, host=host, port=port, threads=opt.threads, connection_limit=opt.connection_limit,
                channel_timeout=opt.idle_timeout, cleanup_interval=opt.check_interval,
                max_request_header_size=opt.max_header_bytes, max_request_body_size=opt.max_body_bytes,
                asyncore_loop_timeout=opt.check_interval, ident="empg-serve")
            self.port = self.effective_port
            self._stop = threading.Event()

        def maintenance(self, now: float) -> None:
            super().maintenance(now)  # idle timeout
            cutoff = now - opt.request_timeout
            for ch in list(self.active_channels.values()):
                req = ch.request  # the request being received, if any
                if req is None or ch.requests:
                    ch.empg_receiving = None
                    continue
                seen = getattr(ch, "empg_receiving", None)
                if seen is None or seen[0] is not req:
                    ch.empg_receiving = (req, now)  # first seen by this sweep
                elif seen[1] < cutoff:
                    ch.will_close = True

        def run(self) -> None:
            try:
                while not self._stop.is_set():
                    wasyncore.loop(timeout=opt.check_interval, map=self._map, count=1)
            finally:
                self.task_dispatcher.shutdown()
                wasyncore.close_all(self._map)

        def stop(self) -> None:
            self._stop.set()
            self.pull_trigger()

    return _Server()

