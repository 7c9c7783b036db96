"""Fault injection on empg-eval: kills, torn and missing run-file lines, two evaluators, agents that cannot
act, bad command-line values and closed pipes. Each case ends in a clear error or in the intact result."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from empg_gym.eval.harness import AgentFailed, EvalError, RunMismatch, evaluate, main, summary_text
from empg_gym.eval.schema import validate_entry

from .fakes import NeverValid, StopAfter

REPO = Path(__file__).resolve().parents[2]
VOLATILE = ("date", "command", "git_commit", "wall_time_s")
GN = dict(split="test", batch_size=4, progress=False)  # GuessNumber: 16 tasks in 4 batches


def stable(entry):
    return {k: v for k, v in entry.items() if k not in VOLATILE}


def child(code: str, **kw) -> subprocess.Popen:
    """A Python child process running ``code`` with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True, **kw)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """An uninterrupted run with its complete run file kept: (entry, run-file bytes)."""
    out = tmp_path_factory.mktemp("full") / "full.json"
    entry = evaluate("random", "empg/GuessNumber-v0", out=out, keep_run_file=True, seeds=(0, 1), **GN)
    return entry, out.with_name("full.json.partial.jsonl").read_bytes()


# --- torn, truncated and missing run-file lines ---------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_run_file_cut_at_a_random_byte_resumes_to_the_same_entry(full, tmp_path, seed):
    """A kill can stop the run file at any byte; resuming from any prefix gives the uninterrupted entry."""
    entry, raw = full
    cut = random.Random(seed).randrange(1, len(raw))
    out = tmp_path / "cut.json"
    out.with_name("cut.json.partial.jsonl").write_bytes(raw[:cut])
    assert stable(evaluate("random", "empg/GuessNumber-v0", out=out, seeds=(0, 1), **GN)) == stable(entry)


@pytest.mark.parametrize("seed", range(4))
def test_missing_or_damaged_lines_are_replayed(full, tmp_path, seed, capsys):
    """Episode lines deleted, garbled or of wrong types anywhere: their batches are replayed, not trusted."""
    entry, raw = full
    lines = raw.decode().splitlines(keepends=True)
    rng = random.Random(seed)
    body = list(range(1, len(lines)))  # keep the header
    for i in rng.sample(body, 3):
        lines[i] = rng.choice(
            ["", "{garbage\n", '{"type": "episode", "episode": 3, "won": "yes"}\n', "\x00\xff\n"]
        )
    out = tmp_path / "hurt.json"
    out.with_name("hurt.json.partial.jsonl").write_text(
        "".join(lines), encoding="utf-8", errors="surrogateescape"
    )
    assert stable(evaluate("random", "empg/GuessNumber-v0", out=out, seeds=(0, 1), **GN)) == stable(entry)


def test_missing_episode_line_no_longer_fails_with_a_bare_2(full, tmp_path, capsys):
    """The reported failure: one episode line gone from a finished batch made resumes exit 'empg-eval: 2'."""
    entry, raw = full
    lines = raw.decode().splitlines(keepends=True)
    ep2 = next(i for i, line in enumerate(lines) if '"episode": 2,' in line and '"type": "episode"' in line)
    out = tmp_path / "m.json"
    out.with_name("m.json.partial.jsonl").write_text("".join(lines[:ep2] + lines[ep2 + 1 :]))
    argv = ["--agent", "random", "--env", "empg/GuessNumber-v0", "--batch-size", "4", "--seeds", "0", "1"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert stable(json.loads(out.read_text())) == stable(entry)
    assert "resuming m.json.partial.jsonl: 7/8 batches done" in capsys.readouterr().err


def test_torn_header_starts_over(tmp_path, capsys):
    out = tmp_path / "h.json"
    run = out.with_name("h.json.partial.jsonl")
    run.write_text('{"type": "header", "format": 2, "env_')
    e = evaluate("random", "empg/GuessNumber-v0", out=out, **GN)
    assert "no readable header" in capsys.readouterr().err and e["episodes"] == 16 and not run.exists()


# --- kills at random moments ----------------------------------------------------------------------------

KILL = """
    import sys
    from tests.eval.fakes import StopAfter
    from empg_gym.eval.harness import evaluate
    evaluate(StopAfter({n}, kill=True), "empg/GuessNumber-v0", agent_spec="random", out={out!r},
             split="test", batch_size=4, seeds=(0, 1), progress=False)
"""


def _kill_and_resume(full, tmp_path, seed):
    entry, _ = full
    out = tmp_path / f"k{seed}.json"
    n = random.Random(seed).randrange(1, 40)  # act calls in the whole run: about 2 x 4 batches x 7 turns
    proc = child(KILL.format(n=n, out=str(out)), stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert not out.exists()
    assert stable(evaluate("random", "empg/GuessNumber-v0", out=out, seeds=(0, 1), **GN)) == stable(entry)


def test_sigkill_at_a_random_act_call_then_resume(full, tmp_path):
    _kill_and_resume(full, tmp_path, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 6))
def test_sigkill_at_random_moments_then_resume(full, tmp_path, seed):
    _kill_and_resume(full, tmp_path, seed)


def test_interrupt_then_resume_keeps_finished_batches(full, tmp_path):
    entry, _ = full
    out = tmp_path / "i.json"
    with pytest.raises(KeyboardInterrupt):
        evaluate(StopAfter(20), "empg/GuessNumber-v0", agent_spec="random", out=out, seeds=(0, 1), **GN)
    assert stable(evaluate("random", "empg/GuessNumber-v0", out=out, seeds=(0, 1), **GN)) == stable(entry)


# --- two evaluators on one output -----------------------------------------------------------------------

HOLD = """
    from tests.eval.fakes import WaitOnStdin
    from empg_gym.eval.harness import evaluate
    evaluate(WaitOnStdin(), "empg/GuessNumber-v0", agent_spec="random", out={out!r}, split="test",
             batch_size=4, progress=False)
    print("done", flush=True)
"""


def test_second_evaluator_on_the_same_output_is_locked_out(tmp_path):
    out = tmp_path / "locked.json"
    holder = child(HOLD.format(out=str(out)), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "ready"  # the holder is inside its first batch
        with pytest.raises(EvalError) as e:
            evaluate("random", "empg/GuessNumber-v0", out=out, **GN)
        msg = str(e.value)
        assert f"another evaluation (pid {holder.pid} on host " in msg and f"is writing {out}; " in msg
        assert f"break the stale lock by deleting {out.with_name('.locked.json.lock')}/.empg.lock" in msg
        # another output in the same folder is not blocked
        evaluate("random", "empg/GuessNumber-v0", out=tmp_path / "other.json", **GN)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "done"
    finally:
        holder.kill()
        holder.wait(timeout=60)
    assert holder.returncode in (0, -signal.SIGKILL)
    validate_entry(json.loads(out.read_text()))
    assert not out.with_name(".locked.json.lock").exists()  # the lock folder is cleaned up


@pytest.mark.slow
def test_lock_of_a_killed_evaluator_is_taken_over(tmp_path):
    out = tmp_path / "stale.json"
    holder = child(HOLD.format(out=str(out)), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "ready"
    holder.kill()  # SIGKILL while holding the lock
    holder.wait(timeout=60)
    e = evaluate("random", "empg/GuessNumber-v0", out=out, **GN)
    assert e["episodes"] == 16


# --- agents that cannot act -----------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_endpoint_fails_the_run_with_no_entry(tmp_path, capsys):
    spec = tmp_path / "dead.yaml"
    spec.write_text(
        f"backend: openai\nmodel: m\nbase_url: http://127.0.0.1:{_closed_port()}/v1\ntimeout: 0.5\n"
        "max_retries: 1\nextra: {backoff: 0.0}\n"
    )
    out = tmp_path / "dead.json"
    argv = ["--agent", str(spec), "--env", "empg/GuessNumber-v0", "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the agent cannot act" in err and "looks down: 16 requests in a row failed" in err
    assert "Traceback" not in err and not out.exists()
    run = out.with_name("dead.json.partial.jsonl").read_text().splitlines()
    assert json.loads(run[-1])["type"] == "abort"  # the failed batch's episodes are not kept as results


def test_expert_on_an_env_without_an_expert_fails(tmp_path, monkeypatch):
    from empg_gym.envs.base import TextEnv
    from empg_gym.envs.toy.guess_number import GuessNumberEnv

    monkeypatch.setattr(GuessNumberEnv, "expert_action", TextEnv.expert_action)
    out = tmp_path / "x.json"
    with pytest.raises(AgentFailed, match="but empg/GuessNumber-v0 has none"):
        evaluate("expert", "empg/GuessNumber-v0", out=out, **GN)
    assert not out.exists() and not out.with_name("x.json.partial.jsonl").exists()


def test_all_invalid_run_says_so(tmp_path):
    e = evaluate(NeverValid(), "empg/GuessNumber-v0", agent_spec="random", out=tmp_path / "m.json", **GN)
    assert e["metrics"]["invalid_action_rate"]["mean"] == 1.0 and e["warnings"] == ["all_actions_invalid"]
    assert "WARNING: 100% of the actions were invalid" in summary_text(e)
    validate_entry(e, documented=True)


# --- bad command-line values ----------------------------------------------------------------------------

BASE = ["--agent", "random", "--env", "empg/GuessNumber-v0", "--no-progress"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--episodes", "0"], "argument --episodes: expected an integer >= 1, got 0"),
        (["--episodes", "-3"], "argument --episodes: expected an integer >= 1, got -3"),
        (["--episodes", "ten"], "argument --episodes: expected an integer >= 1, got 'ten'"),
        (["--batch-size", "0"], "argument --batch-size: expected an integer >= 1, got 0"),
        (["--max-steps", "0"], "argument --max-steps: expected an integer >= 1, got 0"),
        (["--seeds", "-1"], "argument --seeds: expected an integer >= 0, got -1"),
        (["--seeds", "1", "1"], "argument --seeds: the seeds must be distinct"),
        (["--env-kwargs", "{n: 3"], "argument --env-kwargs: not valid JSON"),
        (["--env-kwargs", "[1]"], "argument --env-kwargs: expected a JSON object"),
    ],
)
def test_bad_option_values_are_usage_errors(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as e:
        main([*BASE, "--out", str(tmp_path / "x.json"), *extra])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agent", "random", "--env", "empg/Nope-v0"], "no documented task list for empg/Nope-v0"),
        (["--agent", "random", "--env", "KeyDoor-v0"], "did you mean empg/KeyDoor-v0?"),
        (["--agent", "random", "--env", "empg/GuessNumber-v0", "--split", "nope"], "split 'nope'"),
        (["--agent", "nobody", "--env", "empg/GuessNumber-v0"], "agent nobody: no agent spec 'nobody'"),
        (
            ["--agent", "random", "--env", "empg/GuessNumber-v0", "--env-kwargs", '{"bogus": 1}'],
            "cannot build empg/GuessNumber-v0 with env kwargs {'bogus': 1}",
        ),
    ],
)
def test_bad_inputs_are_clear_errors(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "x.json"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("empg-eval: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "x.json").exists()


def test_spec_yaml_syntax_error_names_file_and_line(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("backend: random\nname: [oops\nseed: 1\n")
    assert (
        main(["--agent", str(spec), "--env", "empg/GuessNumber-v0", "--out", str(tmp_path / "x.json")]) == 2
    )
    err = capsys.readouterr().err
    assert f"YAML syntax error at {spec}:3:" in err
    ckpt = tmp_path / "checkpoint"
    ckpt.mkdir()
    (ckpt / "agent.yaml").write_text("backend: random\n  name: x\n")
    assert (
        main(["--agent", str(ckpt), "--env", "empg/GuessNumber-v0", "--out", str(tmp_path / "x.json")]) == 2
    )
    assert f"YAML syntax error at {ckpt / 'agent.yaml'}:2:" in capsys.readouterr().err


def test_out_is_a_folder(tmp_path, capsys):
    assert main([*BASE, "--out", str(tmp_path)]) == 2
    assert "is a folder; give the entry's file path" in capsys.readouterr().err


def test_default_output_is_under_runs_not_the_leaderboard(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert (
        main(["--agent", "expert", "--env", "empg/GuessNumber-v0", "--episodes", "2", "--no-progress"]) == 0
    )
    out = capsys.readouterr().out
    assert "entry: runs/eval/empg/GuessNumber-v0/expert_test.json" in out and "not a leaderboard entry" in out
    assert (tmp_path / "runs/eval/empg/GuessNumber-v0/expert_test.json").is_file()
    assert main(["--agent", "expert", "--env", "empg/GuessNumber-v0", "--no-progress", "--fresh"]) == 0
    out = capsys.readouterr().out
    assert "publish it: empg-leaderboard add runs/eval/empg/GuessNumber-v0/expert_test.json" in out


# --- closed pipes ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [
        "from empg_gym.eval.harness import main; import sys; "
        "sys.exit(main(['--agent', 'random', '--env', 'empg/GuessNumber-v0', '--no-progress', '--json', "
        "'--out', {out!r}]))",
        "from empg_gym.eval.leaderboard import main; import sys; sys.exit(main(['show']))",
    ],
    ids=["empg-eval", "empg-leaderboard-show"],
)
def test_closed_stdout_pipe_prints_no_traceback(tmp_path, code):
    proc = child(code.format(out=str(tmp_path / "p.json")), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written (`| head` that already exited)
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 0


# --- real and generated data ----------------------------------------------------------------------------

WEBSHOP_REAL = Path(os.environ.get("WEBSHOP_TEST_DATA", "/work/shared/data/webshop"))


@pytest.mark.slow
def test_real_and_generated_webshop_are_never_paired_or_grouped(tmp_path, monkeypatch):
    """The reported case: the real 1k catalog and the generated one share goal ids; now the entries differ."""
    from empg_gym.eval.compare import ComparisonError, compare_entries
    from empg_gym.eval.leaderboard import Row, _group_key

    if not (WEBSHOP_REAL / "items_shuffle_1000.reconstructed.json").is_file():
        pytest.skip(f"no real WebShop data at {WEBSHOP_REAL} (set WEBSHOP_TEST_DATA)")
    cfg = dict(split="test", limit=4, batch_size=4, progress=False)
    monkeypatch.delenv("WEBSHOP_DATA", raising=False)
    gen = evaluate("expert", "empg/WebShop-v0", out=tmp_path / "gen.json", **cfg)
    monkeypatch.setenv("WEBSHOP_DATA", str(WEBSHOP_REAL))
    real = evaluate("expert", "empg/WebShop-v0", out=tmp_path / "real.json", **cfg)
    assert [r["task_id"] for r in gen["per_episode"]] == [r["task_id"] for r in real["per_episode"]]
    assert (gen["data"]["kind"], real["data"]["kind"]) == ("generated", "real")
    assert gen["task_list"]["hash"] != real["task_list"]["hash"]
    with pytest.raises(ComparisonError, match="different data: A .* ran on real data"):
        compare_entries(real, gen)
    assert _group_key(Row("a", real)) != _group_key(Row("b", gen))  # the key load_board makes tables by


def test_malformed_data_provenance_is_a_clear_error(tmp_path, monkeypatch):
    from empg_gym.envs.toy.guess_number import GuessNumberEnv

    monkeypatch.setattr(GuessNumberEnv, "data_provenance", lambda self: {"kind": "mine"}, raising=False)
    with pytest.raises(
        EvalError, match=r"cannot record which data empg/GuessNumber-v0 runs on: .*kind: 'mine'"
    ):
        evaluate("random", "empg/GuessNumber-v0", out=tmp_path / "x.json", **GN)
    assert not (tmp_path / "x.json").exists()


def test_unwritable_output_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main([*BASE, "--out", str(blocker / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the run's files" in err and str(blocker) in err and "Traceback" not in err


def test_resume_on_other_data_is_refused_naming_both(tmp_path, monkeypatch):
    from empg_gym.envs.toy.guess_number import GuessNumberEnv

    out = tmp_path / "d.json"
    with pytest.raises(KeyboardInterrupt):
        evaluate(StopAfter(5), "empg/GuessNumber-v0", agent_spec="random", out=out, **GN)
    other = {"kind": "real", "source": "other-numbers", "files": {}, "params": {}}
    monkeypatch.setattr(GuessNumberEnv, "data_provenance", lambda self: other, raising=False)
    with pytest.raises(
        RunMismatch, match=r"differs in: data; it ran on builtin data .* would use real data other"
    ):
        evaluate("random", "empg/GuessNumber-v0", out=out, **GN)
