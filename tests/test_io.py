"""The run-folder lock (`empg_gym._io.run_lock`) across real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from empg_gym._io import LOCK_NAME, RunLockedError, run_lock

HOLDER = textwrap.dedent("""
    import sys
    from empg_gym._io import run_lock
    with run_lock(sys.argv[1], "training"):
        print("locked", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
""")


def _holder(folder: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    assert p.stdout is not None and p.stdout.readline().strip() == "locked"
    return p


def test_lock_file_names_holder_and_is_removed_on_exit(tmp_path):
    run = tmp_path / "run"
    with run_lock(run, "training") as path:
        assert path == run / LOCK_NAME
        info = json.loads(path.read_text())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        assert info["what"] == "training" and info["started"].endswith("Z") and info["command"]
    assert not path.exists()


def test_lock_released_when_block_raises(tmp_path):
    with pytest.raises(KeyError), run_lock(tmp_path, "training"):
        raise KeyError("boom")
    with run_lock(tmp_path, "evaluation"):  # free again
        pass


def test_second_lock_in_same_process_is_refused(tmp_path):
    with run_lock(tmp_path, "training"), pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        with run_lock(tmp_path, "evaluation"):
            pass


def test_second_process_gets_clear_error_then_lock_after_release(tmp_path):
    p = _holder(tmp_path)
    try:
        with pytest.raises(RunLockedError) as e, run_lock(tmp_path, "evaluation"):
            pass
        msg = str(e.value)
        assert f"pid {p.pid}" in msg and socket.gethostname() in msg and "training" in msg
        assert "cannot start evaluation" in msg and str(tmp_path / LOCK_NAME) in msg and "deleting" in msg
    finally:
        assert p.stdin is not None
        p.stdin.write("\n")
        p.stdin.flush()
        out, _ = p.communicate(timeout=30)
    assert out.strip() == "released" and p.returncode == 0
    assert not (tmp_path / LOCK_NAME).exists()
    with run_lock(tmp_path, "evaluation"):
        pass


def test_lock_of_killed_holder_is_taken_over(tmp_path):
    p = _holder(tmp_path)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    stale = json.loads((tmp_path / LOCK_NAME).read_text())
    assert stale["pid"] == p.pid  # the file stays behind ...
    with run_lock(tmp_path, "training") as path:  # ... but the kernel dropped the flock: taken over
        assert json.loads(path.read_text())["pid"] == os.getpid()


@pytest.fixture
def no_flock(monkeypatch):
    """A file system without flock (the lock then relies on pid liveness on the same host)."""
    import errno
    import fcntl

    def unsupported(fd, op):
        raise OSError(errno.EOPNOTSUPP, "flock not supported")

    monkeypatch.setattr(fcntl, "flock", unsupported)


def _dead_pid() -> int:
    code = "import os; print(os.getpid())"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(p.stdout)


def test_without_flock_dead_pid_is_taken_over(tmp_path, no_flock):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    with run_lock(tmp_path, "training") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_without_flock_live_pid_or_other_host_is_refused(tmp_path, no_flock):
    lock = tmp_path / LOCK_NAME
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "what": "training"}))
    with pytest.raises(RunLockedError, match=f"pid {os.getppid()}"), run_lock(tmp_path, "training"):
        pass
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": "elsewhere", "what": "training"}))
    with pytest.raises(RunLockedError, match="host elsewhere"), run_lock(tmp_path, "training"):
        pass
    assert json.loads(lock.read_text())["host"] == "elsewhere"  # a refused caller leaves the lock alone


def test_lock_file_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with run_lock(tmp_path, "training") as path:
            assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
