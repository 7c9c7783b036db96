import pytest

pytest.importorskip("torch")
pytest.importorskip("empg_gym.policy.hf")

from empg_gym.cli import main  # noqa: E402
from empg_gym.trainers.config import TrainConfig, save_yaml  # noqa: E402

from .test_train import FAST  # noqa: E402


def test_train_resume_and_plot_from_the_cli(tmp_path, capsys):
    cfg = TrainConfig(**{**FAST, "iterations": 1, "output_dir": str(tmp_path / "run"), "torch_threads": 1})
    save_yaml(cfg, tmp_path / "c.yaml")
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--estimator", "grpo"]) == 0
    assert "latest checkpoint" in capsys.readouterr().out
    assert main(["train", "--config", str(tmp_path / "c.yaml")]) == 2  # refuses to overwrite
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--resume", "--iterations", "2"]) == 0
    assert (tmp_path / "run" / "checkpoints" / "iter_000002" / "agent.yaml").is_file()
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    assert main(["train-plot", str(tmp_path / "run"), "--out", str(out)]) == 0
    assert out.stat().st_size > 0


def test_bad_config_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("estimator: nope\n")
    assert main(["train", "--config", str(tmp_path / "c.yaml")]) == 2
    assert "unknown advantage estimator" in capsys.readouterr().err
