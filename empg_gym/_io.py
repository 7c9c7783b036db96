"""Atomic file writes and the run-folder lock.

- :func:`write_text_atomic` / :func:`write_json_atomic`: a reader sees the old file or the new one, never a
  half-written one.
- :func:`run_lock`: one trainer or evaluator per run folder; a second one gets :class:`RunLockedError` naming
  the holder (pid, host, start time, command) and how to break a stale lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The file gets the mode an ordinary ``open(path, "w")`` would give: an existing file keeps its mode, a new
    one gets ``0o666`` minus the process umask (``mkstemp`` alone would leave every file ``0o600``).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = os.stat(p).st_mode & 0o7777
    except OSError:  # a new file
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)  # elsewhere: set and restore (briefly process-wide)
    os.umask(current)
    return current


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 1) -> Path:
    """``obj`` as JSON (one trailing newline), written atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=indent) + "\n")


# ------------------------------------------------------------------------------------------- run lock
LOCK_NAME = ".empg.lock"


class RunLockedError(RuntimeError):
    """Another live process holds a run folder's lock (the message names it and how to break the lock).

    Attributes:
        lock: The lock file.
        holder: What the holder wrote into it (pid, host, what, started, command); empty if unreadable.
    """

    def __init__(self, message: str, lock: Path | None = None, holder: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.lock = lock
        self.holder = dict(holder or {})


def _lock_info(what: str) -> dict[str, Any]:
    import socket
    import sys
    import time

    return {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join([os.path.basename(sys.executable), *sys.argv])}


def _read_lock(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _locked_message(path: Path, info: Mapping[str, Any], what: str) -> str:
    holder = "another process"
    if info:
        holder = (f"{info.get('what', 'a process')} pid {info.get('pid', '?')} "
                  f"on host {info.get('host', '?')}, started {info.get('started', '?')} "
                  f"({info.get('command', '?')})")
    return (f"{path.parent} is in use by {holder}; cannot start {what} there. Wait for it to finish or stop "
            f"it, or use another folder. If that process is gone (e.g. it ran on another machine), break the "
            f"stale lock by deleting {path}")


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold the lock of a run folder (one trainer or evaluator per folder) for the ``with`` block.

    The lock is the file ``<folder>/.empg.lock`` holding JSON ``{pid, host, what, started, command}``.
    On POSIX it is also ``flock``-ed while held, so the kernel drops the lock when the holder dies in any way
    (SIGKILL, OOM): a later process finds the file unlocked, treats its content as stale and takes over. Where
    ``flock`` is unavailable, a lock whose pid is dead on this same host is taken over; a lock from another
    host is never broken automatically (delete the file, as the error says).

    Args:
        folder: The run folder (created if missing).
        what: What the caller does, for the holder's description (e.g. ``"training"``).

    Yields:
        The lock file's path.

    Raises:
        RunLockedError: Another live process holds the lock.
    """
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    path = d / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        fcntl = None  # type: ignore[assignment]
    fd = -1
    for _ in range(10):  # retries only on races with a releasing/breaking process
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                info = _read_lock(path)
                raise RunLockedError(_locked_message(path, info, what), path, info) from None
            except OSError:  # flock unsupported on this file system: fall back to pid liveness
                pass
            else:
                try:
                    same = os.fstat(fd).st_ino == os.stat(path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # the holder released (unlinked) between our open and flock: retry
                    os.close(fd)
                    continue
                break
        info = _read_lock(path)
        if info and (info.get("host") != _lock_info(what)["host"] or _pid_alive(info.get("pid"))):
            os.close(fd)
            raise RunLockedError(_locked_message(path, info, what), path, info)
        break
    else:  # pragma: no cover - pathological churn
        raise RunLockedError(f"could not take the lock {path} (it keeps changing hands)")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(_lock_info(what)) + "\n").encode())
        os.fsync(fd)
        yield path
    finally:
        try:
            if _read_lock(path).get("pid") == os.getpid():
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)  # releases the flock
