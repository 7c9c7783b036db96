"""AgentSpec, load_spec, load_agent: names, YAML files, checkpoint folders, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from empg_gym.policy import AgentSpec, agents_dir, load_agent, load_spec
from empg_gym.policy.simple import ExpertAgent, RandomAgent

REPO = Path(__file__).resolve().parents[2]


def test_builtin_names_and_shipped_specs():
    assert isinstance(load_agent("random"), RandomAgent)
    assert isinstance(load_agent("expert"), ExpertAgent)
    assert load_agent("expert").needs_expert and not load_agent("random").needs_expert
    assert agents_dir().resolve() == (REPO / "agents").resolve()


@pytest.mark.parametrize("path", sorted((REPO / "agents").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_spec_loads(path):
    spec = load_spec(path)
    assert spec.name == path.stem
    assert len(spec.spec_hash()) == 16


def test_spec_hash_is_canonical_and_sensitive():
    a = AgentSpec(backend="random", sampling={"temperature": 1.0, "top_p": 0.9})
    b = AgentSpec(backend="random", sampling={"top_p": 0.9, "temperature": 1.0})
    assert a.spec_hash() == b.spec_hash()
    assert a.spec_hash() != a.replace(history_length=3).spec_hash()
    assert a.replace(sampling={"top_k": 5}).sampling == {"temperature": 1.0, "top_p": 0.9, "top_k": 5}


def test_yaml_file_and_checkpoint_folder(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump({"backend": "random", "seed": 4}))
    s = load_spec(str(f))
    assert (s.backend, s.seed, s.name) == ("random", 4, "mine")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    AgentSpec(backend="transformers", model=str(ckpt), sampling={"temperature": 0.7}).save(ckpt)
    s2 = load_spec(ckpt)
    assert s2.model == str(ckpt) and s2.sampling == {"temperature": 0.7}
    # model omitted: the checkpoint folder holds the weights
    (ckpt / "agent.yaml").write_text("backend: transformers\n")
    assert load_spec(ckpt).model == str(ckpt.resolve())
    assert load_spec(ckpt).name == "ckpt"


def test_bad_specs(tmp_path):
    with pytest.raises(ValueError, match="unknown agent backend 'magic'"):
        load_spec({"backend": "magic"})
    with pytest.raises(ValueError, match="unknown agent spec keys"):
        load_spec({"backend": "random", "temprature": 1})
    with pytest.raises(ValueError, match="unknown sampling keys"):
        load_spec({"backend": "random", "sampling": {"temp": 1}})
    with pytest.raises(ValueError, match="needs a model"):
        load_spec({"backend": "transformers"})
    with pytest.raises(ValueError, match="needs base_url"):
        load_spec({"backend": "openai", "model": "m"})
    with pytest.raises(FileNotFoundError, match="no agent spec 'nope'"):
        load_spec("nope")
    with pytest.raises(FileNotFoundError, match="without agent.yaml"):
        load_spec(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must be a YAML mapping"):
        load_spec(bad)
