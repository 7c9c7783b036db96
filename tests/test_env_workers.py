"""Rollouts whose envs step in Ray actors give the same trajectories as in-process envs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from empg_gym.env_workers import LocalEnvs
from empg_gym.policy import load_agent
from empg_gym.rollout import collect

ALFWORLD_DATA = Path(os.environ.get("ALFWORLD_DATA", "/work/shared/data/alfworld"))


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_local_pool_resets_and_steps_slots_in_job_order():
    pool = LocalEnvs("empg/GuessNumber-v0", {}, None, False, 2)
    try:
        (o0, i0), (o1, i1) = pool.reset([(1, 5, {"task_index": 3}), (0, 5, {"task_index": 9})])
        assert (i0["task_id"], i1["task_id"]) == ("guess16-4", "guess16-10")
        # GuessNumber: guessing the hidden number wins; slot 1 holds task 3 (number 4), slot 0 task 9 (10)
        (_, r_a, term_a, _, _), (_, r_b, term_b, _, _) = pool.step([(0, "guess 10"), (1, "guess 5")])
        assert term_a and r_a == 1.0 and not term_b and r_b == 0.0
    finally:
        pool.close()


@pytest.mark.slow
def test_ray_env_workers_give_the_in_process_trajectories(ray_cluster):
    from empg_gym.env_workers import RayEnvs

    kw = dict(tasks=6, group_size=2, seed=11, batch_size=5, progress=False)
    local = collect(load_agent("random"), "empg/GuessNumber-v0", **kw)
    remote = collect(load_agent("random"), "empg/GuessNumber-v0", env_workers=2, **kw)
    assert remote == local
    assert {t.won for t in local} == {True, False}  # a random agent: both outcomes occur
    # a pool made once serves several rollouts (a trainer's iterations) and stays open after them
    pool = RayEnvs("empg/GuessNumber-v0", {}, None, False, 5, workers=2)
    try:
        pids = ray_cluster.get([a.pid.remote() for a in pool.actors])
        assert len(set(pids)) == 2 and os.getpid() not in pids
        assert collect(load_agent("random"), "empg/GuessNumber-v0", env_workers=pool, **kw) == local
        assert collect(load_agent("random"), "empg/GuessNumber-v0", env_workers=pool, **kw) == local
        with pytest.raises(ValueError, match="holds 5 slots of empg/GuessNumber-v0"):
            collect(load_agent("random"), "empg/GuessNumber-v0", env_workers=pool, tasks=6, batch_size=6,
                    progress=False)
    finally:
        pool.close()


@pytest.mark.slow
def test_ray_env_workers_on_alfworld_with_the_expert(ray_cluster):
    if not (ALFWORLD_DATA / "valid_unseen_games.txt").is_file():
        pytest.skip(f"no ALFWorld data at {ALFWORLD_DATA} (set ALFWORLD_DATA)")
    kw = dict(tasks=[{"task_index": i} for i in range(4)], seed=3, batch_size=4, max_steps=30, progress=False,
              env_kwargs={"split": "valid_unseen", "data_dir": str(ALFWORLD_DATA)})
    local = collect(load_agent("expert"), "empg/ALFWorld-v0", **kw)
    remote = collect(load_agent("expert"), "empg/ALFWorld-v0", env_workers=2, **kw)
    assert remote == local
    assert all(t.won for t in local)  # the expert's actions (computed in the actors) solve the games


def test_a_reused_local_pool_gives_the_same_trajectories_and_stays_open():
    kw = dict(tasks=5, group_size=2, seed=4, batch_size=4, progress=False)
    ref = collect(load_agent("random"), "empg/GuessNumber-v0", **kw)
    pool = LocalEnvs("empg/GuessNumber-v0", {}, None, False, 4)
    try:
        for _ in range(2):
            assert collect(load_agent("random"), "empg/GuessNumber-v0", env_workers=pool, **kw) == ref
        with pytest.raises(ValueError, match="holds 4 slots of empg/GuessNumber-v0; this rollout needs 1 of"):
            collect(load_agent("random"), "empg/KeyDoor-v0", env_workers=pool, tasks=1, progress=False)
    finally:
        pool.close()
