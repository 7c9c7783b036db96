"""The trainer's data path: StepBatch rows -> ScoredBatch rows -> one update, checked on a tiny model.

No rollout: the trajectories are written by hand, so every row's tokens are known.
"""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from empg_gym.trainers.config import TrainConfig  # noqa: E402
from empg_gym.trainers.pg import PGTrainer  # noqa: E402
from empg_gym.trainers.scoring import ScoredBatch  # noqa: E402
from empg_gym.types import StepBatch, Trajectory, Turn  # noqa: E402

# Token ids < 300 exist in the tiny tokenizer's vocabulary. Row order of the StepBatch:
# traj 0: steps 0 (3-token response), 1 (empty response: nothing to score); traj 1: steps 2, 3, 4.
TURNS = [
    [((5, 6, 7), (10, 11, 12)), ((5, 6, 7, 8), ())],
    [((9, 8), (20,)), ((9, 8, 7, 6, 5), (21, 22, 23, 24, 25)), ((4,), (30, 31))],
]


def _trajs():
    out = []
    for g, turns in enumerate(TURNS):
        ts = tuple(Turn(observation=f"o{g}{j}", prompt_token_ids=p, token_ids=r) for j, (p, r) in enumerate(turns))
        out.append(Trajectory(env_id="empg/KeyDoor-v0", task_id=str(g), task="t", turns=ts, group_id=g))
    return out


def _trainer(tmp_path, **kw):
    cfg = TrainConfig(**{"env_id": "empg/KeyDoor-v0", "model": "tiny:qwen2", "device": "cpu", "progress": False,
                         "output_dir": str(tmp_path / "run"), "estimator": "grpo", "minibatch_size": 8,
                         "micro_batch_size": 2, "max_grad_norm": 0.0, "lr": 1e-2, **kw})
    t = PGTrainer(cfg)
    t.setup()
    return t


def _forward(model, prompt, resp):
    ids = torch.tensor([list(prompt) + list(resp)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    lp_all = torch.log_softmax(logits[len(prompt) - 1:len(prompt) - 1 + len(resp)], -1)
    lp = lp_all[torch.arange(len(resp)), torch.tensor(resp)]
    return lp, -(lp_all.exp() * lp_all).sum(-1)


def test_scored_rows_align_with_step_batch_rows(tmp_path):
    t = _trainer(tmp_path)
    trajs = _trajs()
    batch = t.step_batch(trajs, [[0.0] * len(x.turns) for x in trajs])
    flat = [turn for x in TURNS for turn in x]
    assert len(batch) == len(flat) == 5
    assert list(batch.response_ids) == [r for _, r in flat] and list(batch.prompt_ids) == [p for p, _ in flat]
    with torch.no_grad():
        scored = t.score(batch)
    assert scored.old_logp.shape == scored.mask.shape == (5, 5)
    assert scored.live.tolist() == [0, 2, 3, 4]  # row 1 has no response
    for i, (p, r) in enumerate(flat):
        assert scored.mask[i].tolist() == [1.0] * len(r) + [0.0] * (5 - len(r))
        if not r:
            continue
        lp, ent = _forward(t.model, p, r)
        torch.testing.assert_close(scored.old_logp[i, :len(r)], lp, rtol=1e-5, atol=1e-5)
        assert scored.step_entropy[i] == pytest.approx(float(ent.mean()), rel=1e-5)
    # the unscored step gets the mean step entropy of the scored ones (not 0, EMPG's "most confident")
    assert scored.step_entropy[1] == pytest.approx(scored.step_entropy[[0, 2, 3, 4]].mean())


def test_update_refuses_scores_of_another_batch(tmp_path):
    t = _trainer(tmp_path)
    trajs = _trajs()
    batch = t.step_batch(trajs, [[0.0] * len(x.turns) for x in trajs])
    with torch.no_grad():
        scored = t.score(batch)
    # the same rows in another order: the scores no longer belong to the rows
    perm = np.array([4, 1, 3, 2, 0])
    shuffled = dataclasses.replace(batch, prompt_ids=batch.prompt_ids[perm], response_ids=batch.response_ids[perm])
    scored = dataclasses.replace(scored, advantages=np.ones(5))
    with pytest.raises(RuntimeError, match="not aligned"):
        t.update(0, shuffled, scored)


def test_one_update_moves_log_probs_in_the_sign_of_the_advantage(tmp_path):
    """+1 advantage rows gain log-probability, -1 rows lose it (a sign-flipped loss fails this)."""
    t = _trainer(tmp_path)
    trajs = _trajs()
    batch = t.step_batch(trajs, [[0.0] * len(x.turns) for x in trajs])
    with torch.no_grad():
        before = t.score(batch)
    adv = np.array([1.0, 0.0, -1.0, 1.0, -1.0])
    stats = t.update(0, batch, dataclasses.replace(before, advantages=adv))
    assert stats["optimizer_steps"] == 1  # 4 live rows, one minibatch
    with torch.no_grad():
        after = t.score(batch)
    m = before.mask
    delta = ((after.old_logp - before.old_logp) * m).sum(-1) / m.sum(-1).clamp_min(1)  # mean change per row
    assert delta[0] > 0 and delta[3] > 0, delta
    assert delta[2] < 0 and delta[4] < 0, delta


def test_scored_batch_checks_shapes():
    z = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="mask's shape"):
        ScoredBatch(old_logp=torch.zeros(2, 2), mask=z, ref_logp=None, step_entropy=np.zeros(2))
    with pytest.raises(ValueError, match="advantages"):
        ScoredBatch(old_logp=z, mask=z, ref_logp=None, step_entropy=np.zeros(2), advantages=np.zeros(3))


def test_step_batch_token_columns_follow_rows():
    b = StepBatch.from_trajectories(_trajs())
    assert b.step.tolist() == [0, 1, 0, 1, 2] and b.traj_id.tolist() == [0, 0, 1, 1, 1]
    assert b.response_ids[3] == (21, 22, 23, 24, 25) and b.prompt_ids[4] == (4,)
