"""How far apart the two training protocols are, and how close each estimator is to the reference.

    python benchmarks/protocols.py

On the ALFWorld-like batches of ``tests/fixtures/verl_agent/alfworld_like.json`` (16 groups x 8, +10 on
success, 0.1 penalty per invalid step; see the README there), prints two tables and writes
benchmarks/results/protocols.json:

1. each estimator under the default protocol (verl-agent) against verl-agent's own outputs: max abs diff;
2. each estimator under ``protocol: trajectory`` against the reference (verl-agent) outputs: Pearson r and
   the share of steps whose advantage has the opposite sign (what a user comparing with published
   verl-agent numbers would otherwise be off by).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from empg_gym import advantages
from empg_gym._io import write_json_atomic
from empg_gym.types import StepBatch

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "verl_agent" / "alfworld_like.json"
CASES = {
    "grpo": ("grpo", {}),
    "grpo_no_std": ("grpo", {"scale_std": False}),
    "rloo": ("rloo", {}),
    "gigpo_mean_norm": ("gigpo", {"norm": "mean_norm"}),
    "gigpo_mean_std_norm": ("gigpo", {"norm": "mean_std_norm"}),
    "reinforce_pp": ("reinforce_pp", {}),
    "reinforce_pp_baseline": ("reinforce_pp", {"group_baseline": True}),
    "gae": ("gae", {"whiten": True}),
    "empg_on_grpo": ("empg", {}),
}


def load(name: str) -> tuple[StepBatch, dict]:
    """A fixture batch and its record."""
    fx = json.loads(FIXTURE.read_text())["fixtures"][name]
    r = fx["rows"]
    anchor = np.empty(len(r["traj"]), dtype=object)
    anchor[:] = r["obs"]
    b = StepBatch(np.array(r["traj"]), np.array(r["step"]), np.array(r["group"]),
                  np.array(r["reward"], float),
                  np.array(r["terminated"]), np.array(r["truncated"]), np.array(r["entropy"]),
                  np.array(r["value"]), anchor, fx["penalty_coef"] * np.array(r["invalid"], float),
                  np.array(r["n_tokens"]))
    return b, fx


def main() -> None:
    """Print the tables and write the JSON."""
    out: dict = {"fixture": str(FIXTURE.relative_to(ROOT)), "python": platform.python_version(),
                 "batches": {}}
    for name in ("alfworld_like", "edge"):
        b, fx = load(name)
        rows = {}
        for case, (est, kw) in CASES.items():
            ref = np.asarray(fx["verl_agent"][case])
            ours = advantages.get(est)(b, **kw)
            kw_t = dict(kw)
            if est == "gae":  # the trajectory protocol's GAE: over turns, gamma 1, lambda 0.95, bootstrap
                kw_t = {"whiten": True}
            traj = advantages.get(est)(b, protocol="trajectory", **kw_t)
            r = float(np.corrcoef(traj, ref)[0, 1]) if traj.std() > 0 and ref.std() > 0 else float("nan")
            flips = float(np.mean(np.sign(traj) != np.sign(ref)))
            rows[case] = {"max_abs_diff_default": float(np.max(np.abs(ours - ref))),
                          "trajectory_r": r, "trajectory_sign_flips": flips}
        out["batches"][name] = {"steps": len(b), "rows": rows}
        print(f"\n{name}: {len(b)} steps")
        print(f"{'estimator':24} {'default vs ref':>15} {'trajectory r':>13} {'sign flips':>11}")
        for case, v in rows.items():
            print(f"{case:24} {v['max_abs_diff_default']:15.2e} {v['trajectory_r']:13.3f} "
                  f"{100 * v['trajectory_sign_flips']:10.1f}%")
    write_json_atomic(ROOT / "benchmarks" / "results" / "protocols.json", out)


if __name__ == "__main__":
    main()
