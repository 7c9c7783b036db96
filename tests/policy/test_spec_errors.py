"""Damaged agent specs: file, line, field and the expected type in one message."""

from __future__ import annotations

import pytest

from empg_gym.policy import load_spec


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("backend: random\nhistory_length: two\n", ":2: history_length: expected an int, got the str 'two'"),
        ("backend: random\nseed: 1.5\n", ":2: seed: expected an int, got the float 1.5"),
        ("backend: random\nlogprobs: maybe\n", ":2: logprobs: expected a bool, got the str 'maybe'"),
        ("backend: 3\n", ":1: backend: expected a str, got the int 3"),
        ("backend: random\nsampling: [1, 2]\n", ":2: sampling: expected a mapping"),
        ("backend: random\nsampling:\n  temperature: hot\n", ":3: sampling.temperature: expected a float"),
        ("backend: random\nsampling:\n  top_k: 5\n  stop: 7\n", ":4: sampling.stop: expected a str or"),
        ("backend: random\nextra: nope\n", ":2: extra: expected a mapping"),
        ("backend: random\n  model: x\n", ":2:8: not valid YAML"),
        ("backend: [random\n", "not valid YAML"),
        ("- backend\n- random\n", "an agent spec (backend, model, sampling, ...) must be a YAML mapping"),
        ("backend: random\nnope: 1\n", "unknown agent spec keys ['nope']"),
        ("\tbackend: random\n", ":1:1: not valid YAML"),
    ],
)
def test_bad_spec_names_file_line_and_field(tmp_path, text, needle):
    p = tmp_path / "a.yaml"
    p.write_text(text)
    with pytest.raises(ValueError) as e:
        load_spec(p)
    assert str(p) in str(e.value) and needle in str(e.value), str(e.value)


def test_binary_spec_file(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff" * 10)
    with pytest.raises(ValueError, match="not UTF-8 text") as e:
        load_spec(p)
    assert str(p) in str(e.value)


def test_yaml_float_without_a_dot_and_ints_for_floats_are_accepted(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("backend: random\ntimeout: 5\nsampling:\n  temperature: 7e-1\n  top_p: 1\n")
    s = load_spec(p)
    assert s.sampling == {"temperature": 0.7, "top_p": 1} and s.timeout == 5
