import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from empg_gym.trainers.scoring import pack, score  # noqa: E402

from .tiny import tiny_lm  # noqa: E402

SAMPLES = [([1, 2, 3], [4, 5]), ([7], [8, 9, 10, 11]), ([3, 3, 3, 3, 3], [1])]


def _manual(model, prompt, resp):
    ids = torch.tensor([prompt + resp])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    p = len(prompt)
    lp_all = torch.log_softmax(logits[p - 1:p - 1 + len(resp)], -1)
    lp = lp_all[torch.arange(len(resp)), torch.tensor(resp)]
    ent = -(lp_all.exp() * lp_all).sum(-1)
    return lp, ent


def test_pack_layout():
    pb = pack(SAMPLES)
    assert pb.input_ids.shape == (3, 6) and pb.resp_ids.shape == (3, 4)
    assert pb.input_ids[1].tolist() == [7, 8, 9, 10, 11, 0]
    assert pb.resp_index[0].tolist() == [2, 3, 3, 3]  # padding repeats the last index
    assert pb.resp_mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert pb.last_prompt_index.tolist() == [2, 0, 4]
    with pytest.raises(ValueError, match="non-empty"):
        pack([([1], [])])


@pytest.mark.parametrize("mbs", [1, 2, 8])
def test_score_matches_unpadded_forward(mbs):
    model = tiny_lm()
    lps, ents = score(model, SAMPLES, micro_batch_size=mbs)
    for (p, r), lp, ent in zip(SAMPLES, lps, ents, strict=True):
        want_lp, want_ent = _manual(model, p, r)
        assert lp.shape == (len(r),)
        torch.testing.assert_close(lp, want_lp, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ent, want_ent, atol=1e-5, rtol=1e-5)
        assert torch.all(ent >= 0) and torch.all(ent <= torch.log(torch.tensor(64.0)) + 1e-5)


def test_response_logits_run_the_output_layer_on_response_positions_only():
    from empg_gym.trainers.scoring import response_logits

    model = tiny_lm()
    pb = pack(SAMPLES)
    seen = []
    handle = model.get_output_embeddings().register_forward_hook(lambda m, a, out: seen.append(out.shape))
    logits = response_logits(model, pb)
    handle.remove()
    assert seen == [(3, 4, logits.shape[-1])]  # [B, R, V], not [B, L, V]
    full = model(input_ids=pb.input_ids, attention_mask=pb.attention_mask).logits
    want = torch.gather(full, 1, pb.resp_index.unsqueeze(-1).expand(-1, -1, full.shape[-1]))
    torch.testing.assert_close(logits, want, atol=1e-6, rtol=1e-6)
    # the gradient is the same as through the full logits
    (logits * pb.resp_mask.unsqueeze(-1)).sum().backward()
    g_hook = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    full = model(input_ids=pb.input_ids, attention_mask=pb.attention_mask).logits
    want = torch.gather(full, 1, pb.resp_index.unsqueeze(-1).expand(-1, -1, full.shape[-1]))
    (want * pb.resp_mask.unsqueeze(-1)).sum().backward()
    for a, b in zip(g_hook, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
