"""Crash safety of training runs: damaged checkpoints, stale folders, the run lock, and SIGKILLs.

The fault-injection tests run the real ``python -m empg_gym.trainers.cli`` in a subprocess. A
``sitecustomize`` put on the child's PYTHONPATH counts the child's file-system events (``os.replace``,
``os.fsync``, ``os.mkdir``, ``shutil.rmtree``, opening a file for writing) and SIGKILLs the child right
before or right after the n-th one, so the kills land in every window of the save sequence (inside a
checkpoint being written, between the metrics row and the checkpoint, between the rename and ``latest``,
inside pruning), at a different n per seed. Another test kills from outside as soon as the metrics file
reaches a random number of rows, i.e. while the trainer is saving. After each kill the run is resumed
(and maybe killed again) until it completes; then its metrics rows are exactly iterations 0..N-1 and its
weights and rows equal an uninterrupted run's (the trainer is deterministic per (seed, iteration)).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("empg_gym.policy.hf")

from safetensors.torch import load_file  # noqa: E402

from empg_gym._io import LOCK_NAME, RunLockedError, run_lock  # noqa: E402
from empg_gym._validate import CorruptFileError  # noqa: E402
from empg_gym.trainers import checkpoint as ck  # noqa: E402
from empg_gym.trainers import train  # noqa: E402
from empg_gym.trainers.config import TrainConfig, save_yaml  # noqa: E402

from .test_train import FAST  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ITERS, PREV = 3, 2  # checkpoints after iterations 1, 2, 3; the first is pruned (keep 2)
CRASH = dict(FAST, iterations=ITERS, save_every=1, keep_checkpoints=2, estimator="empg")
UMASK = 0o027  # the uninterrupted run is written under it: its files must be 0640 (mkstemp alone: 0600)


def _cfg(tmp_path: Path, name: str = "run", **kw) -> TrainConfig:
    return TrainConfig(**{**CRASH, "output_dir": str(tmp_path / name), **kw})


def _resume(cfg: TrainConfig) -> TrainConfig:
    return TrainConfig(**{**cfg.__dict__, "resume": True})


def _rows(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def _same_run(a: Path, b: Path, iters: int = ITERS) -> None:
    """Run ``b`` has the rows and final weights of run ``a`` (timings aside)."""
    ra, rb = _rows(a), _rows(b)
    assert [r["iteration"] for r in rb] == list(range(iters))
    for x, y in zip(ra, rb, strict=True):
        assert {k: v for k, v in x.items() if not k.startswith("time_")} == \
            {k: v for k, v in y.items() if not k.startswith("time_")}
    name = ck.checkpoint_name(iters)
    wa = load_file(str(a / "checkpoints" / name / "model.safetensors"))
    wb = load_file(str(b / "checkpoints" / name / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (b / "latest").read_text().strip() == f"checkpoints/{name}"
    assert not [p.name for p in (b / "checkpoints").iterdir() if p.name.startswith(".")]
    assert not (b / LOCK_NAME).exists()


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """An uninterrupted run (written under :data:`UMASK`)."""
    old = os.umask(UMASK)
    try:
        return train(_cfg(tmp_path_factory.mktemp("straight")))
    finally:
        os.umask(old)


# ------------------------------------------------------------------------------ damaged files, in-process
def test_check_safetensors_names_corrupt_and_truncated_files(straight, tmp_path):
    src = straight / "checkpoints" / ck.checkpoint_name(ITERS) / "model.safetensors"
    ck.check_safetensors(src)  # whole
    data = src.read_bytes()
    cases = {"truncated": data[:-100], "tiny": data[:5], "garbled": b"\xff" * 8 + data[8:],
             "bad_header": data[:8] + b"x" * (len(data) - 8), "longer": data + b"\0"}
    for name, blob in cases.items():
        f = tmp_path / f"{name}.safetensors"
        f.write_bytes(blob)
        with pytest.raises(CorruptFileError, match="corrupt or truncated safetensors") as e:
            ck.check_safetensors(f)
        assert str(f) in str(e.value), name


def test_corrupt_weights_name_the_file_when_loaded_as_agent_or_base_model(straight, tmp_path, capsys):
    import shutil

    from empg_gym.policy import load_agent
    from empg_gym.trainers.cli import main

    ckpt = shutil.copytree(straight / "checkpoints" / ck.checkpoint_name(ITERS), tmp_path / "ckpt")
    w = ckpt / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(CorruptFileError, match="corrupt or truncated safetensors") as e:
        load_agent(ckpt)  # what empg-eval --agent <ckpt> does
    assert str(w) in str(e.value)
    save_yaml(_cfg(tmp_path, model=str(ckpt)), tmp_path / "c.yaml")  # a damaged base model to train from
    assert main(["--config", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert str(w) in err and "corrupt or truncated" in err


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_resume_falls_back_when_latest_dangles_or_is_torn(straight, tmp_path):
    """A dangling or torn ``latest`` -> the newest complete checkpoint; the resumed run ends identical."""
    for i, latest in enumerate([b"checkpoints/iter_000009\n", b"chec", b"\xff\xfe garbage", b"../../x"]):
        run = _copy_run(straight, tmp_path / f"r{i}")
        (run / "latest").write_bytes(latest)
        assert ck.latest_checkpoint(run) == run / "checkpoints" / ck.checkpoint_name(ITERS)
    # the newest checkpoint damaged (truncated weights, torn state file) -> the one before it
    for i, (f, cut) in enumerate([("model.safetensors", 100), (ck.STATE_FILE, 5), (ck.OPT_FILE, 1)]):
        run = _copy_run(straight, tmp_path / f"d{i}")
        p = run / "checkpoints" / ck.checkpoint_name(ITERS) / f
        p.write_bytes(p.read_bytes()[:-cut])
        assert ck.latest_checkpoint(run) == run / "checkpoints" / ck.checkpoint_name(PREV), f
        assert str(p) in ck.run_checkpoint_problems(run)[0]
    run = tmp_path / "d0"
    train(_resume(_cfg(tmp_path, "d0")))  # recomputes the last iteration from PREV and re-saves it
    _same_run(straight, run)


def test_resume_refuses_when_every_checkpoint_is_damaged(straight, tmp_path):
    run = _copy_run(straight, tmp_path / "run")
    for d in (run / "checkpoints").iterdir():
        (d / "model.safetensors").write_bytes(b"not a safetensors file")
    before = (run / "metrics.jsonl").read_text()
    with pytest.raises(ck.CheckpointError, match="no complete checkpoint") as e:
        train(_resume(_cfg(tmp_path)))
    assert "model.safetensors: corrupt or truncated" in str(e.value)
    with pytest.raises(FileExistsError, match="already holds a run"):  # no silent start-over either
        train(_cfg(tmp_path))
    assert (run / "metrics.jsonl").read_text() == before


def test_stale_folders_are_removed_and_an_interrupted_resave_rolled_back(straight, tmp_path):
    import shutil

    run = _copy_run(straight, tmp_path / "run")
    root = run / "checkpoints"
    last, prev = ck.checkpoint_name(ITERS), ck.checkpoint_name(PREV)
    (root / f".{ck.checkpoint_name(ITERS + 1)}.tmp-999999").mkdir()
    (root / f".{ck.checkpoint_name(ITERS + 1)}.tmp-999999" / "model.safetensors").write_bytes(b"half")
    shutil.copytree(root / prev, root / f".{ck.checkpoint_name(1)}.del-999998")
    # killed in a re-save of the last checkpoint between moving the old copy away and moving the new one in
    os.replace(root / last, root / f".{last}.old-999997")
    shutil.copytree(root / f".{last}.old-999997", root / f".{last}.tmp-999997")
    removed = ck.clean_stale(run)
    assert len(removed) == 4
    assert sorted(p.name for p in root.iterdir()) == [prev, last]
    assert ck.latest_checkpoint(run) == root / last


def test_metrics_truncated_to_the_checkpoint_dedupes_and_drops_torn_rows(tmp_path):
    p = tmp_path / "metrics.jsonl"
    for it in [0, 1, 1, 2, 3]:  # a duplicate row (older save-first order) and a row past the checkpoint
        ck.append_metrics(p, {"iteration": it, "v": it})
    with open(p, "a") as f:
        f.write('{"iteration": 4, "v"')
    ck.truncate_metrics(p, 3)
    assert [r["iteration"] for r in ck.read_metrics(p)] == [0, 1, 2]


def test_second_trainer_on_a_folder_is_locked_out(tmp_path, capsys):
    from empg_gym.trainers.cli import main

    cfg = _cfg(tmp_path, iterations=1)
    save_yaml(cfg, tmp_path / "c.yaml")
    with run_lock(tmp_path / "run", "training"):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            train(cfg)
        assert main(["--config", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert "is in use by training pid" in err and "by deleting" in err
    assert not (tmp_path / "run" / "checkpoints").exists()  # it touched nothing


def test_run_files_respect_the_umask(straight):
    files = [p for p in straight.rglob("*") if p.is_file()]
    assert len(files) > 20 and {p.stat().st_mode & 0o777 for p in files} == {0o666 & ~UMASK}, \
        sorted((p.name, oct(p.stat().st_mode & 0o777)) for p in files)


# ------------------------------------------------------------------------------------- SIGKILL, real CLI
HOOK = textwrap.dedent('''
    """Test hook: SIGKILL this process before/after its n-th file-system event (EMPG_KILL_AT=n:when)."""
    import builtins, io, os, shutil, signal

    _spec = os.environ.get("EMPG_KILL_AT")
    _count_file = os.environ.get("EMPG_COUNT_EVENTS")
    if _spec or _count_file:
        _n, _when = (_spec.split(":") if _spec else ("0", "before"))
        _state = {"n": 0, "kill": int(_n)}

        def _event():
            _state["n"] += 1
            if _count_file:
                with _orig_open(_count_file, "w") as f:
                    f.write(str(_state["n"]))
            return _state["n"] == _state["kill"]

        def _wrap(fn, writes_only=False):
            def inner(*a, **kw):
                if writes_only:
                    mode = a[1] if len(a) > 1 else kw.get("mode", "r")
                    if not any(c in str(mode) for c in "wax+"):
                        return fn(*a, **kw)
                hit = _event()
                if hit and _when == "before":
                    os.kill(os.getpid(), signal.SIGKILL)
                out = fn(*a, **kw)
                if hit:
                    os.kill(os.getpid(), signal.SIGKILL)
                return out
            return inner

        _orig_open = builtins.open
        builtins.open = io.open = _wrap(builtins.open, writes_only=True)
        for _name in ("replace", "fsync", "mkdir"):
            setattr(os, _name, _wrap(getattr(os, _name)))
        shutil.rmtree = _wrap(shutil.rmtree)
''')


def _child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    env = {k: v for k, v in os.environ.items() if k not in ("EMPG_KILL_AT", "EMPG_COUNT_EVENTS")}
    env.update(PYTHONPATH=os.pathsep.join([str(hook), str(ROOT)]), OMP_NUM_THREADS="1", **extra)
    return env


def _cli(config: Path, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "empg_gym.trainers.cli", "--config", str(config), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen) -> tuple[int, str]:
    _, err = p.communicate(timeout=300)
    return p.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_at_random_file_system_events_then_resume(straight, tmp_path, seed):
    cfg = _cfg(tmp_path)
    save_yaml(cfg, tmp_path / "c.yaml")
    counts = tmp_path / "events"
    rc, err = _finish(_cli(tmp_path / "c.yaml", env=_child_env(tmp_path, EMPG_COUNT_EVENTS=str(counts))))
    assert rc == 0, err
    total = int(counts.read_text())  # events of an uninterrupted run
    import shutil

    shutil.rmtree(tmp_path / "run")
    rng = random.Random(seed)
    kills, resume = [], []
    while True:
        n, when = rng.randint(1, total), rng.choice(["before", "after"])
        p = _cli(tmp_path / "c.yaml", *resume, env=_child_env(tmp_path, EMPG_KILL_AT=f"{n}:{when}"))
        rc, err = _finish(p)
        if rc == 0:
            break
        assert rc == -signal.SIGKILL, err
        kills.append((n, when))
        resume = ["--resume"]
        assert len(kills) < 12
    assert kills, "never killed"
    print(f"seed {seed}: {total} events, killed at {kills}")
    _same_run(straight, tmp_path / "run")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_from_outside_while_saving_then_resume(straight, tmp_path, seed):
    """Kill as soon as the metrics file has r rows: the trainer is then just saving (the issue's window)."""
    cfg = _cfg(tmp_path)
    save_yaml(cfg, tmp_path / "c.yaml")
    metrics = tmp_path / "run" / "metrics.jsonl"
    rng = random.Random(seed)
    resume: list[str] = []
    for _ in range(8):
        have = len(ck.read_metrics(metrics))
        if have >= ITERS:  # killed while saving the last checkpoint
            break
        target = rng.randint(have + 1, ITERS)
        p = _cli(tmp_path / "c.yaml", *resume, env=_child_env(tmp_path))
        while p.poll() is None and len(ck.read_metrics(metrics)) < target:
            try:
                p.wait(timeout=0.001)  # poll the child's progress
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        rc, err = _finish(p)
        resume = ["--resume"]
        if rc == 0:
            break
        assert rc == -signal.SIGKILL, err
        print(f"seed {seed}: killed with {len(ck.read_metrics(metrics))} rows written")
    rc, err = _finish(_cli(tmp_path / "c.yaml", "--resume", env=_child_env(tmp_path)))
    assert rc == 0, err
    _same_run(straight, tmp_path / "run")
