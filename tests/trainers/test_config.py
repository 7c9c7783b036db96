import pytest

from empg_gym.trainers.config import TrainConfig, from_dict, load_config, load_yaml, save_yaml


def test_defaults_valid_and_roundtrip(tmp_path):
    cfg = TrainConfig(estimator="grpo", estimator_kwargs={"scale_std": False}, adam_betas=(0.9, 0.95))
    save_yaml(cfg, tmp_path / "c.yaml")
    assert load_yaml(tmp_path / "c.yaml") == cfg


def test_dict_fields_from_the_command_line_as_the_docs_write_them():
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    cfg = load_config(root / "baselines" / "keydoor_empg_tiny.yaml",
                      ["--estimator", "grpo", "--estimator-kwargs.scale-std", "False", "--output-dir", "runs/x"])
    assert cfg.estimator == "grpo" and cfg.estimator_kwargs == {"scale_std": False} and cfg.output_dir == "runs/x"
    cfg = load_config(root / "baselines" / "keydoor_empg_tiny.yaml",
                      ["--estimator-kwargs.base-kwargs.scale-std=False", "--env-kwargs.size", "3"])
    assert cfg.estimator == "empg" and cfg.estimator_kwargs["base_kwargs"] == {"scale_std": False}
    assert cfg.estimator_kwargs["zeta"] == 0.1 and cfg.env_kwargs["size"] == 3 and cfg.env_kwargs["num_tasks"] == 16
    with pytest.raises(ValueError, match="base_kwargs.*nope"):
        load_config(None, ["--estimator-kwargs.base-kwargs.nope", "1"])
    with pytest.raises(ValueError, match="needs a value"):
        load_config(None, ["--estimator-kwargs.zeta"])


def test_help_shows_config_and_the_dict_syntax(capsys):
    from empg_gym.trainers.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--config PATH" in out and "--estimator-kwargs.NAME VALUE" in out and "--lr" in out


def test_legacy_keys_and_the_agent_spec(tmp_path):
    cfg = from_dict({"model": "tiny", "tiny_arch": "llama", "estimator": "gae", "critic": True})
    assert cfg.model == "tiny:llama" and cfg.uses_critic
    with pytest.raises(ValueError, match="critic: True contradicts estimator: grpo"):
        from_dict({"estimator": "grpo", "critic": True})
    spec = TrainConfig(device="cuda:1", dtype="float16", max_new_tokens=12, output_dir="runs/abc").agent_spec()
    assert (spec.backend, spec.model, spec.device, spec.dtype, spec.name) == (
        "transformers", "tiny:qwen2", "cuda:1", "float16", "abc")
    assert spec.sampling["max_new_tokens"] == 12 and spec.logprobs is False


def test_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text("estimator: empg\nestimator_kwargs: {zeta: 0.1}\nlr: 1.0e-6\n")
    cfg = load_config(tmp_path / "c.yaml", ["--lr", "3e-5", "--estimator-kwargs.zeta", "0.05", "--clip-high", "0.28"])
    assert cfg.lr == 3e-5 and cfg.estimator_kwargs == {"zeta": 0.05} and cfg.clip_high == 0.28


@pytest.mark.parametrize("kw, msg", [
    ({"estimator": "nope"}, "unknown advantage estimator"),
    ({"estimator": "grpo", "estimator_kwargs": {"zeta": 1}}, "no hyperparameter"),
    ({"lr": 0}, "lr must be > 0"),
    ({"clip_low": 1.5}, "clip_low"),
    ({"micro_batch_size": 16, "minibatch_size": 8}, "micro_batch_size"),
    ({"estimator": "gae", "estimator_kwargs": {"whiten": True}}, "remove whiten"),
    ({"estimator": "empg", "estimator_kwargs": {"base_kwargs": {"nope": 1}}}, "base_kwargs: .*nope"),
    ({"estimator": "empg", "estimator_kwargs": {"base": "nope"}}, "unknown advantage estimator 'nope'"),
    ({"env_id": "empg/NoSuchEnv-v0"}, "env_id 'empg/NoSuchEnv-v0' is not a registered env"),
    ({"prompt": "nope"}, "unknown prompt template 'nope'"),
    ({"device": "gpu"}, "device must be"),
    ({"dtype": "float64"}, "dtype must be"),
    ({"model": "tiny:gpt2"}, "tiny models are"),
    ({"protocol": "verl"}, "protocol must be one of"),
    ({"estimator": "grpo", "estimator_kwargs": {"protocol": "trajectory"}}, "top-level `protocol`"),
    ({"estimator": "empg", "estimator_kwargs": {"base_kwargs": {"protocol": "trajectory"}}}, "top-level"),
    # values the estimator rejects fail at config time, naming estimator, kwargs and protocol
    ({"estimator": "gae", "estimator_kwargs": {"lam": 0.95}},
     "under protocol 'verl-agent'.*lam"),
    ({"estimator": "reinforce_pp", "estimator_kwargs": {"gamma": 0.9}}, "gamma=0.9 needs protocol"),
    ({"estimator": "gigpo", "estimator_kwargs": {"norm": "l2"}}, "norm must be one of"),
])
def test_validation(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw)


def test_unknown_fields_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        from_dict({"learning_rate": 1})
    with pytest.raises(FileNotFoundError, match="baselines"):
        load_yaml(tmp_path / "missing.yaml")


def test_every_shipped_baseline_loads():
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[2] / "baselines").glob("*.yaml"))
    assert len(files) >= 10
    for f in files:
        cfg = load_yaml(f)
        assert cfg.output_dir.endswith(f.stem), f


def test_protocol_default_and_pass_through():
    cfg = TrainConfig(estimator="grpo", estimator_kwargs={"scale_std": False})
    assert cfg.protocol == "verl-agent"
    assert cfg.estimator_call_kwargs() == {"scale_std": False, "protocol": "verl-agent"}
    t = TrainConfig(estimator="gae", protocol="trajectory", estimator_kwargs={"lam": 0.9})
    assert t.estimator_call_kwargs() == {"lam": 0.9, "protocol": "trajectory"}


def test_estimator_without_protocol_gets_none(monkeypatch):
    import numpy as np

    from empg_gym import advantages

    monkeypatch.setitem(advantages._REGISTRY, "plain", lambda batch, alpha=1.0: np.zeros(len(batch)))
    cfg = TrainConfig(estimator="plain", estimator_kwargs={"alpha": 2.0})
    assert cfg.estimator_call_kwargs() == {"alpha": 2.0}


def test_paper_configs_use_the_verl_agent_protocol_explicitly():
    from pathlib import Path

    import yaml

    files = sorted((Path(__file__).resolve().parents[2] / "baselines").glob("*_qwen2.5-*.yaml"))
    assert len(files) >= 16
    for f in files:
        assert yaml.safe_load(f.read_text()).get("protocol") == "verl-agent", f
