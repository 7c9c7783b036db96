"""Damaged training configs and bad empg-train values: file, line, field and expected type; exit code 2."""

from __future__ import annotations

import pytest

from empg_gym.trainers.config import load_yaml


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("lr: abc\n", ":1: lr: expected a float, got the str 'abc'"),
        ("estimator: grpo\niterations: 2.5\n", ":2: iterations: expected an int, got the float 2.5"),
        ("iterations: '10'\n", ":1: iterations: expected an int, got the str '10'"),
        ("progress: yes please\n", ":1: progress: expected a bool"),
        ("env_kwargs: [1, 2]\n", ":1: env_kwargs: expected a mapping, got the list [1, 2]"),
        ("adam_betas: [0.9]\n", ":1: adam_betas: expected a list of 2 (a float, a float)"),
        ("adam_betas: [0.9, x]\n", ":1: adam_betas: expected a list of 2"),
        ("max_steps: many\n", ":1: max_steps: expected an int or None (null)"),
        ("estimator: [grpo]\n", ":1: estimator: expected a str"),
        ("lr: 1.0e-3\n  iterations: 3\n", ":2:13: not valid YAML"),
        ("lr: [1.0\n", "not valid YAML"),
        ("- lr\n- 1\n", "a training config (TrainConfig fields) must be a YAML mapping"),
        ("iterations: 0\n", "iterations must be >= 1"),
        ("learning_rate: 1.0\n", "unknown TrainConfig field(s) ['learning_rate']"),
    ],
)
def test_bad_config_names_file_line_and_field(tmp_path, text, needle):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ValueError) as e:
        load_yaml(p)
    assert str(p) in str(e.value) and needle in str(e.value), str(e.value)


def test_two_wrong_types_are_both_reported(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("estimator: grpo\nlr: abc\ngroup_size: 4\ntask_pool: lots\n")
    with pytest.raises(ValueError) as e:
        load_yaml(p)
    assert f"{p}:2: lr:" in str(e.value) and f"{p}:4: task_pool:" in str(e.value)


def test_float_without_a_dot_is_a_float(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("lr: 1e-5\nclip_high: 2.8E-1\n")  # PyYAML reads these as strings
    cfg = load_yaml(p)
    assert cfg.lr == 1e-5 and cfg.clip_high == 0.28


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--lr", "abc"], "--lr"),
        (["--iterations", "-1"], "iterations must be >= 1"),
        (["--iterations", "1e3"], "--iterations"),
        (["--config"], "--config needs a YAML path"),
    ],
)
def test_bad_cli_values_exit_2(argv, needle, capsys):
    from empg_gym.trainers.cli import main

    try:
        rc = main(argv)
    except SystemExit as e:  # tyro's own usage errors
        rc = e.code
    captured = capsys.readouterr()
    assert rc == 2 and needle in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_binary_config_file(tmp_path, capsys):
    from empg_gym.trainers.cli import main

    p = tmp_path / "c.yaml"
    p.write_bytes(bytes(range(256)))
    assert main(["--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and "not UTF-8 text" in err
