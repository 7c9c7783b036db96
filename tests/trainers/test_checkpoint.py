import json

import pytest

torch = pytest.importorskip("torch")

from empg_gym.trainers.checkpoint import (  # noqa: E402
    append_metrics,
    optimizer_from_safetensors,
    optimizer_to_safetensors,
    read_metrics,
    truncate_metrics,
)


def _opt(seed):
    torch.manual_seed(seed)
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-2, betas=(0.9, 0.95))
    return lin, opt


def test_optimizer_roundtrip_is_exact():
    lin, opt = _opt(0)
    for _ in range(3):
        opt.zero_grad()
        lin(torch.randn(4, 3)).sum().backward()
        opt.step()
    tensors, meta = optimizer_to_safetensors(opt)
    json.dumps(meta)  # JSON-able, no pickle
    lin2, opt2 = _opt(1)
    lin2.load_state_dict(lin.state_dict())
    optimizer_from_safetensors(opt2, tensors, meta)
    x = torch.randn(4, 3)
    for model, o in ((lin, opt), (lin2, opt2)):
        o.zero_grad()
        model(x).sum().backward()
        o.step()
    for a, b in zip(lin.parameters(), lin2.parameters(), strict=True):
        assert torch.equal(a, b)
    assert opt2.param_groups[0]["betas"] == (0.9, 0.95)


def test_metrics_append_read_truncate(tmp_path):
    p = tmp_path / "m.jsonl"
    for i in range(4):
        append_metrics(p, {"iteration": i, "success": i / 4})
    with open(p, "a") as f:
        f.write('{"iteration": 4, "succ')  # a torn line from a kill
    assert [r["iteration"] for r in read_metrics(p)] == [0, 1, 2, 3]
    truncate_metrics(p, 2)
    assert [r["iteration"] for r in read_metrics(p)] == [0, 1]
