import pytest

from empg_gym.trainers.config import TrainConfig, from_dict, load_config, load_yaml, save_yaml


def test_defaults_valid_and_roundtrip(tmp_path):
    cfg = TrainConfig(estimator="grpo", estimator_kwargs={"scale_std": False}, adam_betas=(0.9, 0.95))
    save_yaml(cfg, tmp_path / "c.yaml")
    assert load_yaml(tmp_path / "c.yaml") == cfg


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
    ({"estimator": "gae"}, "needs critic"),
    ({"critic": True}, "needs estimator: gae"),
    ({"protocol": "verl"}, "protocol must be one of"),
    ({"estimator": "grpo", "estimator_kwargs": {"protocol": "trajectory"}}, "top-level `protocol`"),
    ({"estimator": "empg", "estimator_kwargs": {"base_kwargs": {"protocol": "trajectory"}}}, "top-level"),
    # values the estimator rejects fail at config time, naming estimator, kwargs and protocol
    ({"estimator": "gae", "critic": True, "estimator_kwargs": {"lam": 0.95}},
     "under protocol 'verl-agent'.*lam"),
    ({"estimator": "reinforce_pp", "estimator_kwargs": {"gamma": 0.9}}, "gamma=0.9 needs protocol"),
    ({"estimator": "gigpo", "estimator_kwargs": {"norm": "l2"}}, "norm must be one of"),
    ({"estimator": "empg", "estimator_kwargs": {"base": "nope"}}, "unknown advantage estimator 'nope'"),
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
    t = TrainConfig(estimator="gae", critic=True, protocol="trajectory", estimator_kwargs={"lam": 0.9})
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
