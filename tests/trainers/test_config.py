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
    ({"estimator": "gae", "estimator_kwargs": {"whiten": True}}, "remove whiten"),
    ({"estimator": "empg", "estimator_kwargs": {"base_kwargs": {"nope": 1}}}, "base_kwargs: .*nope"),
    ({"estimator": "empg", "estimator_kwargs": {"base": "nope"}}, "unknown advantage estimator 'nope'"),
    ({"env_id": "empg/NoSuchEnv-v0"}, "env_id 'empg/NoSuchEnv-v0' is not a registered env"),
    ({"prompt": "nope"}, "unknown prompt template 'nope'"),
    ({"device": "gpu"}, "device must be"),
    ({"dtype": "float64"}, "dtype must be"),
    ({"model": "tiny:gpt2"}, "tiny models are"),
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
