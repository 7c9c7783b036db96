import math

import pytest

torch = pytest.importorskip("torch")

from empg_gym.trainers.loss import aggregate, policy_loss  # noqa: E402

MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def _loss(logp, old, adv, **kw):
    args = dict(clip_low=0.2, clip_high=0.2, loss_agg="token", n_tokens=3.0, n_seqs=2.0)
    args.update(kw)
    return policy_loss(logp, old, adv, MASK, **args)


def test_ratio_one_token_and_sequence_aggregation():
    z = torch.zeros(2, 3)
    adv = torch.tensor([1.0, 2.0])
    # token: (-1 - 1 - 2) / 3; sequence: mean(-1, -2)
    assert _loss(z, z, adv).loss.item() == pytest.approx(-4 / 3)
    assert _loss(z, z, adv, loss_agg="sequence").loss.item() == pytest.approx(-1.5)


def test_clip_higher_is_asymmetric():
    old = torch.zeros(2, 3)
    up = torch.full((2, 3), math.log(1.5))  # ratio 1.5
    adv = torch.tensor([1.0, 1.0])
    assert _loss(up, old, adv).loss.item() == pytest.approx(-1.2)  # clipped at 1 + 0.2
    assert _loss(up, old, adv, clip_high=0.28).loss.item() == pytest.approx(-1.28)
    down = torch.full((2, 3), math.log(0.5))  # ratio 0.5, negative advantage: clipped at 1 - 0.2
    out = _loss(down, old, -adv)
    assert out.loss.item() == pytest.approx(0.8)
    assert out.pg_clipfrac_sum == 3.0 and out.n_tokens == 3.0
    # ratio 0.5 with a positive advantage is not clipped (min picks the unclipped, smaller objective)
    assert _loss(down, old, adv).loss.item() == pytest.approx(-0.5)


def test_kl_k3_and_entropy_bonus():
    z = torch.zeros(2, 3)
    ref = torch.full((2, 3), math.log(2.0))
    k3 = 2 - math.log(2.0) - 1
    out = _loss(z, z, torch.zeros(2), ref_logp=ref, kl_coef=0.1)
    assert out.loss.item() == pytest.approx(0.1 * k3)
    assert out.ref_kl_sum == pytest.approx(3 * k3)
    ent = torch.full((2, 3), 2.0)
    assert _loss(z, z, torch.zeros(2), entropy=ent, entropy_coef=0.01).loss.item() == pytest.approx(-0.02)
    with pytest.raises(ValueError, match="reference"):
        _loss(z, z, torch.zeros(2), kl_coef=0.1)


def test_micro_batches_sum_to_minibatch_loss():
    g = torch.Generator().manual_seed(0)
    logp = torch.randn(4, 5, generator=g, requires_grad=True)
    old = torch.randn(4, 5, generator=g)
    adv = torch.randn(4, generator=g)
    mask = (torch.rand(4, 5, generator=g) > 0.3).float()
    mask[:, 0] = 1
    for agg in ("token", "sequence"):
        kw = dict(clip_low=0.2, clip_high=0.28, loss_agg=agg, n_tokens=float(mask.sum()), n_seqs=4.0)
        full = policy_loss(logp, old, adv, mask, **kw).loss
        parts = sum(policy_loss(logp[i:i + 2], old[i:i + 2], adv[i:i + 2], mask[i:i + 2], **kw).loss
                    for i in (0, 2))
        assert full.item() == pytest.approx(parts.item(), abs=1e-6)


def test_aggregate_rejects_unknown_mode():
    with pytest.raises(ValueError, match="token' or 'sequence"):
        aggregate(torch.zeros(1, 1), torch.ones(1, 1), "seq", 1.0, 1.0)
