import pytest
import torch

from transformer import make_model, padding_mask, subsequent_mask, target_mask
from transformer.interop import to_torch_transformer


def random_batch(vocab=13, batch=3, src_len=7, tgt_len=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, vocab, (batch, src_len), generator=g)
    tgt = torch.randint(3, vocab, (batch, tgt_len), generator=g)
    src[0, src_len - 2 :] = 0  # padding in one row of each
    tgt[1, tgt_len - 2 :] = 0
    return src, tgt


# float32 has a relative precision of 1.2e-7; the two implementations order their sums differently (fused
# in-projection, fused attention kernels), and two layers of residual sums of O(1) values accumulate a few
# ulps each. Measured here: at most 1e-6. 1e-5 leaves room for other CPUs and kernels.
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-LN", "post-LN"])
def test_full_model_equals_nn_transformer(norm_first):
    torch.manual_seed(0)
    model = make_model(13, 13, N=2, d_model=32, d_ff=64, h=4, dropout=0.0, norm_first=norm_first).eval()
    theirs = to_torch_transformer(model).eval()
    src, tgt = random_batch()
    with torch.no_grad():
        ours = model(src, tgt, padding_mask(src, 0), target_mask(tgt, 0))
        memory = theirs.encoder(model.src_embed(src), src_key_padding_mask=src == 0)
        expected = theirs(
            model.src_embed(src),
            model.tgt_embed(tgt),
            tgt_mask=~subsequent_mask(tgt.size(1))[0],  # nn.Transformer: True = masked out
            src_key_padding_mask=src == 0,
            tgt_key_padding_mask=tgt == 0,
            memory_key_padding_mask=src == 0,
        )
        torch.testing.assert_close(model.encode(src, padding_mask(src, 0)), memory, **TOLERANCE)
    torch.testing.assert_close(ours, expected, **TOLERANCE)


def test_eval_is_deterministic_and_train_is_not():
    torch.manual_seed(0)
    model = make_model(13, 13, N=1, d_model=32, d_ff=64, h=4, dropout=0.5)
    src, tgt = random_batch()
    args = (src, tgt, padding_mask(src, 0), target_mask(tgt, 0))
    model.eval()
    torch.testing.assert_close(model(*args), model(*args), atol=0, rtol=0)
    model.train()
    assert not torch.equal(model(*args), model(*args))


def test_same_seed_same_model():
    torch.manual_seed(3)
    a = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2)
    torch.manual_seed(3)
    b = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


def test_shapes_and_config():
    model = make_model(11, 17, N=2, d_model=32, d_ff=64, h=4)
    src, tgt = random_batch(vocab=11)
    out = model(src, tgt, padding_mask(src, 0), target_mask(tgt, 0))
    assert out.shape == (3, 6, 32)
    assert model.generator(out).shape == (3, 6, 17)
    assert model.config.tgt_vocab == 17 and model.config.norm_first


def test_make_model_bad_heads():
    with pytest.raises(ValueError, match="d_model=30 must be divisible by the number of heads h=4"):
        make_model(11, 11, d_model=30, h=4)


def test_forward_batch_mismatch():
    model = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2)
    with pytest.raises(ValueError, match="src and tgt must have the same batch size, got 2 and 3"):
        model(torch.ones(2, 4, dtype=torch.long), torch.ones(3, 4, dtype=torch.long), None, None)
    with pytest.raises(ValueError, match=r"src: expected shape \(batch, src_len\), got \(4,\)"):
        model(torch.ones(4, dtype=torch.long), torch.ones(3, 4, dtype=torch.long), None, None)
