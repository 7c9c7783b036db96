from empg_gym.trainers.config import TrainConfig
from empg_gym.trainers.pg import (
    informative_groups,
    iteration_seed,
    shaped_rewards,
    step_penalties,
    trajectory_stats,
)
from empg_gym.types import Trajectory, Turn


def _traj(rewards, *, won=False, group=0, invalid=(), lens=None):
    turns = tuple(
        Turn(observation="o", reward=r, action_valid=j not in invalid, token_ids=tuple(range((lens or {}).get(j, 3))))
        for j, r in enumerate(rewards))
    return Trajectory(env_id="e", task_id="t", task="t", turns=turns, group_id=group, won=won, score=float(won))


def test_shaping_verl_agent_style():
    # verl-agent protocol (default): the penalty stays out of the rewards, charged to its own step apart
    cfg = TrainConfig(env_reward_scale=0.0, success_reward=10.0, invalid_penalty=0.1)
    t = _traj([0, 0, 1], won=True, invalid=(1,))
    assert shaped_rewards([t], cfg) == [[0.0, 0.0, 10.0]]
    assert step_penalties([t], cfg) == [[0.0, 0.1, 0.0]]
    # trajectory protocol: the penalty is part of the step reward (and so of the return)
    cfg_t = TrainConfig(env_reward_scale=0.0, success_reward=10.0, invalid_penalty=0.1, protocol="trajectory")
    assert shaped_rewards([t], cfg_t) == [[0.0, -0.1, 10.0]]
    assert shaped_rewards([_traj([0, 0], invalid=(0,))], TrainConfig()) == [[0.0, 0.0]]


def test_overlong_penalty_dapo():
    # max_new_tokens 10, buffer 4: free up to 6 tokens; 8 tokens -> 2/4; 10 tokens -> 1
    cfg = TrainConfig(max_new_tokens=10, overlong_buffer=4, overlong_penalty=1.0)
    t = _traj([0, 0, 0], lens={0: 6, 1: 8, 2: 10})
    assert step_penalties([t], cfg) == [[0.0, 0.5, 1.0]]
    assert shaped_rewards([t], cfg) == [[0.0, 0.0, 0.0]]
    cfg_t = TrainConfig(max_new_tokens=10, overlong_buffer=4, overlong_penalty=1.0, protocol="trajectory")
    assert shaped_rewards([t], cfg_t) == [[0.0, -0.5, -1.0]]


def test_dynamic_sampling_filter():
    trajs = [_traj([1], group=0), _traj([0], group=0), _traj([1], group=1), _traj([1], group=1), _traj([0], group=2)]
    r = shaped_rewards(trajs, TrainConfig())
    assert informative_groups(trajs, r) == {0}
    # group 1 differs only by an invalid step: informative when penalties are in the returns (trajectory),
    # not under verl-agent, which filters on the episode rewards
    trajs[3] = _traj([1], group=1, invalid=(0,))
    kw = {"invalid_penalty": 0.1}
    assert informative_groups(trajs, shaped_rewards(trajs, TrainConfig(**kw))) == {0}
    cfg_t = TrainConfig(protocol="trajectory", **kw)
    assert informative_groups(trajs, shaped_rewards(trajs, cfg_t)) == {0, 1}


def test_trajectory_stats_and_seeds():
    s = trajectory_stats([_traj([0, 1], won=True), _traj([0, 0, 0], invalid=(0, 1))])
    assert s["success"] == 0.5 and s["episode_length"] == 2.5 and s["invalid_rate"] == 0.4 and s["return"] == 0.5
    assert iteration_seed(0, 1) == iteration_seed(0, 1) != iteration_seed(0, 2) != iteration_seed(1, 1)


def test_step_batch_carries_penalties_and_token_counts():
    import numpy as np
    import torch

    from empg_gym import advantages
    from empg_gym.trainers.pg import PGTrainer
    from empg_gym.trainers.scoring import ScoredBatch

    trajs = [_traj([0, 0, 1], won=True, invalid=(1,), lens={0: 4, 1: 2, 2: 5}), _traj([0], lens={0: 3})]
    # the scoring pass skipped the second trajectory's only turn (say, an empty prompt): no tokens, no entropy
    mask = torch.zeros(4, 5)
    for i, n in enumerate([4, 2, 5]):
        mask[i, :n] = 1.0
    scored = ScoredBatch(old_logp=torch.zeros(4, 5), mask=mask, ref_logp=None,
                         step_entropy=np.array([0.5, 1.0, 1.5, 0.0]))
    kw = {"env_reward_scale": 0.0, "success_reward": 10.0, "invalid_penalty": 0.1}
    cfg = TrainConfig(estimator="grpo", **kw)
    t = PGTrainer(cfg)
    b = t.attach_scores(t.step_batch(trajs, shaped_rewards(trajs, cfg)), scored)
    assert b.reward.tolist() == [0, 0, 10, 0] and b.penalty.tolist() == [0, 0.1, 0, 0]
    assert b.n_tokens.tolist() == [4, 2, 5, 0] and b.entropy.tolist() == [0.5, 1.0, 1.5, 0.0]
    # rows (10, 9.9, 10, 0), mean 7.475: the penalised row alone is lower (Dr. GRPO)
    adv = advantages.get("grpo")(b, **{**cfg.estimator_call_kwargs(), "scale_std": False})
    np.testing.assert_allclose(adv, [2.525, 2.425, 2.525, -7.475], atol=1e-12)
    # trajectory protocol: the penalty is already in the rewards and there is no separate penalty
    cfg_t = TrainConfig(estimator="grpo", protocol="trajectory", **kw)
    t_t = PGTrainer(cfg_t)
    bt = t_t.attach_scores(t_t.step_batch(trajs, shaped_rewards(trajs, cfg_t)), scored)
    assert bt.penalty is None and bt.reward.tolist() == [0, -0.1, 10, 0]
    adv_t = advantages.get("grpo")(bt, **{**cfg_t.estimator_call_kwargs(), "scale_std": False})
    np.testing.assert_allclose(adv_t, [4.95, 4.95, 4.95, -4.95], atol=1e-12)
