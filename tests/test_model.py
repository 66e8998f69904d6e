import pytest
import torch

from transformer import DecoderCache, make_model, padding_mask, subsequent_mask, target_mask
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


# Issue 9: every mask rank at every entry point; sizes checked; empty batches; weight tying.


def tiny_model(**kwargs):
    torch.manual_seed(0)
    return make_model(11, 11, **{"N": 1, "d_model": 16, "d_ff": 32, "h": 4, "dropout": 0.0} | kwargs).eval()


def test_the_causal_mask_never_leaks_the_future_and_a_2d_mask_is_refused():
    # The reproduction of the report: a 2-D causal mask used to line its rows up with the heads.
    model = tiny_model()
    src = torch.tensor([[1, 3, 4, 5, 6]])
    a = model(src, torch.tensor([[1, 3, 4, 5]]), None, subsequent_mask(4))
    b = model(src, torch.tensor([[1, 3, 9, 9]]), None, subsequent_mask(4))
    assert torch.equal(a[:, :2], b[:, :2])
    with pytest.raises(ValueError, match=r"tgt_mask: expected 3 dimensions .*got shape \(4, 4\).*unsqueeze\(0\)"):
        model(src, torch.tensor([[1, 3, 4, 5]]), None, subsequent_mask(4)[0])


def entry_points(model, mask):
    """Every public way a mask reaches attention: (name of the mask argument, call)."""
    x, memory = torch.randn(2, 4, 16), torch.randn(2, 4, 16)
    tokens = torch.tensor([[1, 3, 4, 5], [1, 6, 7, 8]])
    layer, dec_layer = model.encoder.layers[0], model.decoder.layers[0]
    cache = DecoderCache.empty(1)
    return {
        "attention module": ("mask", lambda: layer.self_attn(x, x, x, mask)),
        "encoder layer": ("mask", lambda: layer(x, mask)),
        "encoder": ("mask", lambda: model.encoder(x, mask)),
        "decoder layer (self)": ("mask", lambda: dec_layer(x, memory, None, mask)),
        "decoder layer (source)": ("mask", lambda: dec_layer(x, memory, mask, None)),
        "decoder": ("mask", lambda: model.decoder(x, memory, None, mask)),
        "model.encode": ("src_mask", lambda: model.encode(tokens, mask)),
        "model.decode (self)": ("tgt_mask", lambda: model.decode(memory, None, tokens, mask)),
        "model.decode (source)": ("src_mask", lambda: model.decode(memory, mask, tokens, None)),
        "model.decode (cached)": ("tgt_mask", lambda: model.decode(memory, None, tokens, mask, cache)),
        "model": ("tgt_mask", lambda: model(tokens, tokens, None, mask)),
    }


ENTRY_POINTS = [
    "attention module",
    "encoder layer",
    "encoder",
    "decoder layer (self)",
    "decoder layer (source)",
    "decoder",
    "model.encode",
    "model.decode (self)",
    "model.decode (source)",
    "model.decode (cached)",
    "model",
]


@pytest.mark.parametrize("where", ENTRY_POINTS)
@pytest.mark.parametrize("rank", [1, 2, 4])
def test_every_entry_point_refuses_a_mask_that_is_not_3d(rank, where):
    mask = torch.ones((4,) * rank, dtype=torch.bool).tril() if rank > 1 else torch.ones(4, dtype=torch.bool)
    name, call = entry_points(tiny_model(), mask)[where]
    with pytest.raises(ValueError, match=rf"^{name}: expected 3 dimensions"):
        call()


@pytest.mark.parametrize("where", ENTRY_POINTS)
def test_every_entry_point_takes_a_3d_mask(where):
    _, call = entry_points(tiny_model(), subsequent_mask(4))[where]
    with torch.no_grad():
        assert call().size(-1) == 16


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"N": 0}, ValueError, "N: expected an integer >= 1, got 0"),
        ({"d_ff": 0}, ValueError, "d_ff: expected an integer >= 1, got 0"),
        ({"src_vocab": 0}, ValueError, "src_vocab: expected an integer >= 1, got 0"),
        ({"tgt_vocab": -3}, ValueError, "tgt_vocab: expected an integer >= 1, got -3"),
        ({"max_len": 0}, ValueError, "max_len: expected an integer >= 1, got 0"),
        ({"h": 0}, ValueError, "h: expected an integer >= 1, got 0"),
        ({"h": -2}, ValueError, "h: expected an integer >= 1, got -2"),
        ({"d_model": "64"}, TypeError, "d_model: expected an integer, got '64' of type str"),
        ({"N": True}, TypeError, "N: expected an integer, got True of type bool"),
        ({"dropout": 1.0}, ValueError, r"dropout: expected a probability in \[0, 1\), got 1.0"),
        ({"dropout": None}, TypeError, "dropout: expected a number, got None"),
        ({"norm_first": 1}, TypeError, "norm_first: expected True or False, got 1"),
    ],
)
def test_make_model_checks_every_size(kwargs, error, message):
    arguments = {"src_vocab": 11, "tgt_vocab": 11, "N": 1, "d_model": 16, "d_ff": 32, "h": 4} | kwargs
    with pytest.raises(error, match=f"^{message}"):
        make_model(**arguments)


def test_empty_batch_gives_empty_results():
    model = tiny_model()
    src = torch.zeros(0, 5, dtype=torch.long)
    tgt = torch.zeros(0, 4, dtype=torch.long)
    assert model(src, tgt, padding_mask(src, 0), target_mask(tgt, 0)).shape == (0, 4, 16)


def test_tied_weights_are_one_parameter():
    tied = tiny_model(tie_weights=True)
    untied = tiny_model()
    assert tied.generator.proj.weight is tied.tgt_embed[0].lut.weight is tied.src_embed[0].lut.weight
    saved = 2 * 11 * 16  # two of the three (11, 16) matrices are gone
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters()) == saved


def test_tying_with_different_vocabularies_shares_the_target_side_only():
    torch.manual_seed(0)
    model = make_model(7, 11, N=1, d_model=16, d_ff=32, h=4, tie_weights=True)
    assert model.generator.proj.weight is model.tgt_embed[0].lut.weight
    assert model.src_embed[0].lut.weight is not model.tgt_embed[0].lut.weight
