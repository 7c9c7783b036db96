"""``choice_gradient: choice``: the update trains log pi(chosen) of the rollout's choice among admissible actions."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from empg_gym.trainers.choice import Choice, choice_log_prob, choice_table  # noqa: E402
from empg_gym.trainers.config import TrainConfig  # noqa: E402
from empg_gym.trainers.pg import PGTrainer  # noqa: E402
from empg_gym.types import Trajectory, Turn  # noqa: E402

from .tiny import tiny_lm  # noqa: E402

KEYDOOR = dict(env_id="empg/KeyDoor-v0", env_kwargs={"size": 2, "num_tasks": 4})
PROMPT = [3, 9, 4, 17, 22]
CANDS = Choice(candidates=((5, 6, 7), (5, 8), (30, 31, 32, 33)), chosen=1)


def _naive_scores(model, prompt, cands):
    """Each candidate's token log-probs from a separate full forward pass over prompt + candidate."""
    out = []
    for c in cands:
        ids = torch.tensor([list(prompt) + list(c)])
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
        p = len(prompt)
        out.append(torch.stack([logp[p - 1 + j, tok] for j, tok in enumerate(c)]))
    return out


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_choice_log_prob_and_its_gradient_equal_a_full_forward_per_candidate(reduce):
    """log softmax(S / T)[k] from the cached pass equals the one from separate forwards, and so do the gradients."""
    m = tiny_lm(seed=1)
    T = 0.5
    lp, h = choice_log_prob(m, PROMPT, CANDS, temperature=T, reduce=reduce)
    m.zero_grad()
    lp.backward()
    g_cached = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}

    toks = _naive_scores(m, PROMPT, CANDS.candidates)
    s = torch.stack([t.sum() if reduce == "sum" else t.mean() for t in toks])
    want = torch.log_softmax(s / T, 0)
    m.zero_grad()
    want[CANDS.chosen].backward()
    assert float(lp.detach()) == pytest.approx(float(want[CANDS.chosen].detach()), abs=1e-5)
    pi = want.detach().exp()
    assert float(h.detach()) == pytest.approx(float(-(pi * pi.log()).sum()), abs=1e-5)
    assert 0 < float(h.detach()) < math.log(3)
    assert g_cached
    for n, p in m.named_parameters():
        torch.testing.assert_close(g_cached[n], p.grad, rtol=1e-4, atol=1e-6)


def test_choice_log_prob_is_the_rollouts_draw_distribution():
    """The rollout draws from softmax(S / T) with S the summed candidate log-probs of ``hf_scorer``."""
    from empg_gym.policy.hf import hf_scorer

    m = tiny_lm(seed=2)
    scored = hf_scorer(m)(PROMPT, CANDS.candidates)
    s = np.array([sum(lp) for lp, _ in scored])
    z = s / 0.7
    want = z[1] - np.log(np.exp(z - z.max()).sum()) - z.max()
    with torch.no_grad():
        lp, _ = choice_log_prob(m, PROMPT, CANDS, temperature=0.7)
    assert float(lp) == pytest.approx(want, abs=1e-5)


def test_choice_table_marks_the_steps_chosen_from_a_list():
    class Tok:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [ord(ch) for ch in text]}

    tok = Tok()

    def ids(a):
        return tuple(ord(ch) for ch in a + "</action>")

    def turn(adm, resp):
        return Turn(observation="o", admissible_actions=adm, token_ids=resp, action="x")

    turns = [
        turn(("go north", "look", "go south"), ids("look")),  # chosen: index 1
        turn(("search[<your query>]",), tuple(ord(ch) for ch in "red shoes]")),  # a generated slot
        turn(None, ids("look")),  # an open action set
        turn(("look", "search[<your query>]", "go"), ids("go")),  # placeholders are not candidates
        turn(("look",), ids("jump")),  # not one of the candidates (e.g. generated)
    ]
    table = choice_table([Trajectory(env_id="e", task_id="t", task="", turns=turns)], tok)
    assert table.shape == (5,)
    assert table[0] == Choice((ids("go north"), ids("look"), ids("go south")), 1)
    assert table[1] is None and table[2] is None and table[4] is None
    assert table[3] == Choice((ids("look"), ids("go")), 1)


def _trainer(tmp_path, **kw):
    cfg = dict(**KEYDOOR, task_pool=4, max_steps=3, model="tiny:qwen2", group_size=4, groups_per_batch=2,
               max_new_tokens=6, history_length=0, minibatch_size=64, micro_batch_size=5, iterations=1,
               save_every=1, device="cpu", progress=False, torch_threads=1, action_mode="choose",
               choice_score="sum", temperature=0.8, response_prefix="<think>ok</think>", lr=0.05,
               choice_gradient="choice", output_dir=str(tmp_path / "run"))
    cfg.update(kw)
    t = PGTrainer(TrainConfig(**cfg))
    t.setup()
    return t


def test_trainer_scores_a_chosen_step_as_one_choice_and_raises_it_with_a_positive_advantage(tmp_path):
    torch.set_num_threads(1)
    t = _trainer(tmp_path)
    trajs, rewards, _ = t.rollout(0)
    batch = t.step_batch(trajs, rewards)
    assert batch.choices is not None and all(c is not None for c in batch.choices)
    with torch.no_grad():
        scored = t.score(batch)
    # one unit per step: log pi(chosen) in column 0, pi's entropy as the step entropy
    assert torch.equal(scored.mask.sum(-1), torch.ones(len(batch)))
    i = 3
    with torch.no_grad():
        lp, h = choice_log_prob(t.model, batch.prompt_ids[i], batch.choices[i], temperature=0.8)
    assert float(scored.old_logp[i, 0]) == pytest.approx(float(lp), abs=1e-6)
    assert scored.step_entropy[i] == pytest.approx(float(h), abs=1e-6)
    n_cands = len(batch.choices[i].candidates)
    assert 0 <= scored.step_entropy[i] <= math.log(n_cands) + 1e-6

    adv = np.zeros(len(batch))
    adv[i] = 1.0
    t.update(0, t.attach_scores(batch, scored), dataclasses.replace(scored, advantages=adv))
    with torch.no_grad():
        after, _ = choice_log_prob(t.model, batch.prompt_ids[i], batch.choices[i], temperature=0.8)
    assert float(after) > float(lp) + 1e-3


def test_the_choice_log_prob_is_the_token_loss_score_normalised_over_the_candidates(tmp_path):
    """Same start, same rollout: the choice mode's log-prob of a step is S_k / T - logsumexp(S / T) over the
    step's candidates (S at temperature 1, as the rollout scores them); the token mode trains the chosen
    action's tokens under softmax(z / T), like generated text."""
    from empg_gym.policy.hf import hf_scorer

    torch.set_num_threads(1)
    tok = _trainer(tmp_path / "a", choice_gradient="tokens")
    cho = _trainer(tmp_path / "b")
    b_tok = tok.step_batch(*tok.rollout(0)[:2])
    b_cho = cho.step_batch(*cho.rollout(0)[:2])
    assert b_tok.choices is None and list(b_tok.response_ids) == list(b_cho.response_ids)
    with torch.no_grad():
        s_tok, s_cho = tok.score(b_tok), cho.score(b_cho)
    assert (s_tok.mask.sum(-1) > 1).all()  # "{a}</action>" is several tokens
    for i in range(0, len(b_cho), 4):
        c = b_cho.choices[i]
        s = np.array([sum(lp) for lp, _ in hf_scorer(cho.model)(b_cho.prompt_ids[i], c.candidates)])
        s_t = [sum(lp) for lp, _ in hf_scorer(cho.model, temperature=0.8)(b_cho.prompt_ids[i], c.candidates)]
        assert float(s_tok.old_logp[i].sum()) == pytest.approx(s_t[c.chosen], abs=1e-4)
        z = s / 0.8
        assert float(s_cho.old_logp[i, 0]) == pytest.approx(z[c.chosen] - np.log(np.exp(z).sum()), abs=1e-4)


@pytest.mark.parametrize(("kw", "msg"), [
    ({"choice_gradient": "exact"}, "choice_gradient must be 'tokens' or 'choice'"),
    ({"choice_gradient": "choice", "action_mode": "generate"}, "needs action_mode 'choose'"),
    ({"choice_gradient": "choice", "action_mode": "choose", "estimator": "gae"}, "not supported with estimator gae"),
])
def test_choice_gradient_config_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**KEYDOOR, model="tiny:qwen2", **kw)
