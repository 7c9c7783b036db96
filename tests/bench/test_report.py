"""The report's statistics on a synthetic results folder, against hand-computed values."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from empg_gym.bench.report import iqm, make_report, t975, t_interval
from tests.eval.helpers import guess_entry


def won(n_first: int) -> list[bool]:
    return [i < n_first for i in range(16)]


def test_iqm_matches_trimmed_mean():
    assert iqm([0, 1, 2, 3]) == 1.5
    assert iqm([5]) == 5
    assert math.isclose(iqm([0, 0, 0, 1, 1]), 1 / 3)
    assert math.isclose(iqm(list(range(8))), (2 + 3 + 4 + 5) / 4)


def test_t_interval():
    m, lo, hi = t_interval([0.5, 0.375])
    assert m == 0.4375
    assert math.isclose(hi - m, 12.7062 * 0.0625)
    assert t_interval([0.3]) == (0.3, 0.3, 0.3)
    assert t975(4) == 2.7764
    assert abs(t975(31) - 2.0395) < 1e-3  # table value 2.0395
    with pytest.raises(ValueError):
        t975(0)


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "res"
    suite = {
        "name": "syn",
        "baseline": "grpo",
        "methods": {"grpo": {"estimator": "grpo"}, "empg": {"estimator": "empg"}},
        "envs": {"guess": {"env_id": "empg/GuessNumber-v0"}, "key": {"env_id": "empg/KeyDoor-v0"}},
    }
    root.mkdir()
    (root / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    (root / "starts/guess/eval").mkdir(parents=True)
    (root / "starts/guess/eval/test.json").write_text(json.dumps(guess_entry("start", won(4))))
    wins = {("grpo", 0): 8, ("grpo", 1): 6, ("empg", 0): 10, ("empg", 1): 8}
    for (m, s), k in wins.items():
        d = root / f"runs/guess/{m}/s{s}"
        (d / "eval").mkdir(parents=True)
        (d / f"guess-{m}-s{s}").mkdir()
        (d / "eval/test.json").write_text(json.dumps(guess_entry(f"{m}-s{s}", won(k))))
        rows = [
            {
                "iteration": i,
                "success": 0.1 * i,
                "time_rollout": 2.0,
                "time_scoring": 1.0,
                "time_estimator": 0.001,
                "time_update": 3.0,
                "time_total": 6.0,
                "tokens": 100,
                **({"step_entropy_p10": 0.1, "step_entropy_p50": 0.5, "step_entropy_p90": 0.9} if m == "empg" else {}),
                **({"groups_informative": 0.25 * i * (s + 1)} if m == "grpo" else {}),
            }
            for i in range(3)
        ]
        (d / f"guess-{m}-s{s}/metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (d / "result.json").write_text(json.dumps({"train_seconds_total": 18.0}))
    # an unfinished run: listed, not counted
    (root / "runs/guess/empg/s2/guess-empg-s2").mkdir(parents=True)
    return root


def test_report_numbers(results):
    rep = make_report(results, plots=False)
    lst = rep["envs"]["guess"]["lists"]["test"]
    assert lst["start_success"] == 0.25
    g, e = lst["methods"]["grpo"], lst["methods"]["empg"]
    assert g["success_per_seed"] == [0.5, 0.375] and e["success_per_seed"] == [0.625, 0.5]
    assert g["success"][0] == 0.4375 and math.isclose(g["success"][2] - 0.4375, 12.7062 * 0.0625)
    assert math.isclose(e["gain_over_start"][0], 0.3125)
    assert math.isclose(e["iqm"], 0.5625)  # 2 seeds: nothing trimmed, the mean of 0.625 and 0.5
    d = e["diff_vs_baseline"]
    assert math.isclose(d["diff"], 0.125) and d["seeds"] == [0, 1] and d["n"] == 16
    assert d["ci"][0] <= 0.125 <= d["ci"][1] and d["ci"][0] >= 0  # 4 tasks at +0.5, 12 at 0: never < 0
    assert g["diff_vs_baseline"] is None
    cost = rep["envs"]["guess"]["cost"]["grpo"]
    assert (
        cost["rollout"] == 2.0
        and cost["rollout_tokens_per_s"] == 50.0
        and cost["train_seconds_per_run"] == 18.0
    )
    assert rep["unfinished"] == ["guess/empg/s2"]
    md = (results / "report.md").read_text()
    assert "| grpo | 2 | 0.438 [" in md and "+0.125 [" in md and "guess/empg/s2" in md
    # a family of the suite without results gets one line, not empty tables
    assert md.split("## key")[1].strip().startswith("No results yet (no start, no finished run).\n\nUnfinished")


def test_report_leaves_out_start_lists_the_suite_no_longer_names(results):
    raw = yaml.safe_load((results / "suite.yaml").read_text())
    raw["envs"]["guess"]["eval"] = [{"split": "test"}]
    (results / "suite.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (results / "starts/guess/eval/valid.json").write_text(json.dumps(guess_entry("start", won(2))))
    assert list(make_report(results, plots=False)["envs"]["guess"]["lists"]) == ["test"]
    raw["envs"]["guess"]["eval"] = [{"split": "test"}, {"split": "valid"}]
    (results / "suite.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert list(make_report(results, plots=False)["envs"]["guess"]["lists"]) == ["test", "valid"]
    del raw["envs"]["guess"]["eval"]  # no eval key: the suite loader's default, the test list only
    (results / "suite.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert list(make_report(results, plots=False)["envs"]["guess"]["lists"]) == ["test"]


def test_report_needs_a_results_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a benchmark results folder"):
        make_report(tmp_path)


def test_report_plots_curves_and_the_step_entropy_distribution(results):
    pytest.importorskip("matplotlib")
    make_report(results)
    md = (results / "report.md").read_text()
    assert (results / "curves_guess.png").is_file() and (results / "entropy_guess.png").is_file()
    assert "![step entropy](entropy_guess.png)" in md


def test_report_leaves_the_entropy_plot_out_when_not_recorded(results):
    pytest.importorskip("matplotlib")
    for p in results.glob("runs/guess/empg/s*/guess-empg-s*/metrics.jsonl"):
        rows = [{k: v for k, v in json.loads(x).items() if not k.startswith("step_entropy_")}
                for x in p.read_text().splitlines()]
        p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    make_report(results)
    assert not (results / "entropy_guess.png").exists()
    assert "step entropy" not in (results / "report.md").read_text()


def test_training_signal_table(results):
    rep = make_report(results, plots=False)
    sig = rep["envs"]["guess"]["signal"]
    # 3 iterations: the first and the last quarter are one iteration each; means over the 2 seeds
    assert sig["grpo"]["success"] == [0.0, 0.2]
    assert sig["grpo"]["groups_informative"] == [0.0, 0.75]  # last iteration: 0.5 (s0) and 1.0 (s1)
    assert math.isnan(sig["grpo"]["step_entropy_p50"][0]) and sig["empg"]["step_entropy_p50"] == [0.5, 0.5]
    assert all(math.isnan(x) for x in sig["empg"]["groups_informative"])  # runs without the metric
    md = (results / "report.md").read_text()
    assert "| grpo | 2 | 0% / 20% | 0% / 75% | - |" in md and "| empg | 2 | 0% / 20% | - | 0.500 / 0.500 |" in md
