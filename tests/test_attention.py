import pytest
import torch
import torch.nn.functional as F

from transformer import KVCache, MultiHeadedAttention, attention, subsequent_mask
from transformer.interop import to_torch_attention


def qkv(batch=2, h=4, q_len=5, k_len=6, d_k=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, h, n, d_k, generator=g) for n in (q_len, k_len, k_len))


def test_attention_equals_sdpa_without_mask():
    q, k, v = qkv()
    out, weights = attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 5))


@pytest.mark.parametrize(
    "mask",
    [
        torch.tensor([True, True, True, False, False, True]).view(1, 1, 1, 6),  # padding
        torch.ones(5, 6, dtype=torch.bool).tril(),  # causal (k_len > q_len)
        torch.rand(2, 4, 5, 6, generator=torch.Generator().manual_seed(1)) > 0.3,  # arbitrary
        torch.zeros(2, 1, 5, 6, dtype=torch.bool),  # nothing to attend to: zeros, as in SDPA
    ],
    ids=["padding", "causal", "random", "all-masked"],
)
def test_attention_equals_sdpa_with_mask(mask):
    q, k, v = qkv()
    out, weights = attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert not weights.isnan().any()


def test_attention_shape_errors():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="query and key must have the same last dimension d_k, got 8 and 7"):
        attention(q, k[..., :7], v)
    with pytest.raises(ValueError, match=r"key and value must have the same length k_len .* got 6 and 5"):
        attention(q, k, v[..., :5, :])
    with pytest.raises(ValueError, match=r"mask of shape \(5, 5\) does not broadcast to the attention scores"):
        attention(q, k, v, mask=torch.ones(5, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"mask: expected a torch.bool mask .* got dtype torch.int64"):
        attention(q, k, v, mask=torch.ones(5, 6, dtype=torch.long))


def test_heads_must_divide_d_model():
    with pytest.raises(ValueError, match="d_model=512 must be divisible by the number of heads h=7"):
        MultiHeadedAttention(h=7, d_model=512)


@pytest.mark.parametrize("keep_attn", [False, True])
@pytest.mark.parametrize("masking", ["none", "key_padding", "causal"])
def test_equals_nn_multihead_attention(keep_attn, masking):
    torch.manual_seed(0)
    ours = MultiHeadedAttention(h=4, d_model=32, dropout=0.0).eval()
    ours.keep_attn = keep_attn
    theirs = to_torch_attention(ours).eval()
    x = torch.randn(3, 7, 32)
    mask = None
    if masking == "key_padding":
        lengths = torch.tensor([7, 4, 2])
        mask = (torch.arange(7) < lengths[:, None]).unsqueeze(1)  # (batch, 1, k_len)
        expected, expected_weights = theirs(x, x, x, key_padding_mask=~mask.squeeze(1), average_attn_weights=False)
    elif masking == "causal":
        mask = subsequent_mask(7)  # (1, q_len, k_len)
        expected, expected_weights = theirs(x, x, x, attn_mask=~mask[0], average_attn_weights=False)
    else:
        expected, expected_weights = theirs(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(ours(x, x, x, mask), expected, atol=1e-6, rtol=1e-5)
    if keep_attn:
        assert ours.attn.shape == (3, 4, 7, 7)
        torch.testing.assert_close(ours.attn, expected_weights, atol=1e-6, rtol=1e-5)
    else:
        assert ours.attn is None


def test_cross_attention_lengths():
    mha = MultiHeadedAttention(h=2, d_model=8, dropout=0.0)
    out = mha(torch.zeros(2, 3, 8), torch.zeros(2, 5, 8), torch.zeros(2, 5, 8), torch.ones(2, 1, 5, dtype=torch.bool))
    assert out.shape == (2, 3, 8)


def test_multihead_input_errors():
    mha = MultiHeadedAttention(h=2, d_model=8)
    x = torch.zeros(2, 3, 8)
    with pytest.raises(ValueError, match=r"query: expected shape \(batch, q_len, d_model=8\), got \(2, 3, 6\)"):
        mha(torch.zeros(2, 3, 6), x, x)
    with pytest.raises(ValueError, match=r"key: expected shape \(batch, k_len, d_model=8\), got \(3, 8\)"):
        mha(x, torch.zeros(3, 8), x)
    with pytest.raises(ValueError, match="query and key must have the same batch size, got 2 and 1"):
        mha(x, x[:1], x[:1])
    with pytest.raises(
        ValueError, match=r"key and value must have the same \(batch, k_len\), got \(2, 3\) and \(2, 4\)"
    ):
        mha(x, x, torch.zeros(2, 4, 8))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 4\) does not broadcast to the scores .*\(2, 3, 3\)"):
        mha(x, x, x, torch.ones(2, 1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 1, 3\) does not broadcast"):
        mha(x, x, x, torch.ones(3, 1, 3, dtype=torch.bool))  # would silently broadcast the batch to 3


def test_kv_cache_gives_the_same_output_one_position_at_a_time():
    torch.manual_seed(0)
    mha = MultiHeadedAttention(h=2, d_model=8, dropout=0.0).eval()
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 4, 8)
    full_self = mha(x, x, x, subsequent_mask(5))
    full_src = mha(x, memory, memory)
    self_cache, src_cache = KVCache(), KVCache(static=True)
    for t in range(5):
        step = x[:, t : t + 1]
        torch.testing.assert_close(mha(step, step, step, cache=self_cache), full_self[:, t : t + 1])
        torch.testing.assert_close(mha(step, memory, memory, cache=src_cache), full_src[:, t : t + 1])
    assert self_cache.key.shape == (2, 2, 5, 4) and src_cache.key.shape == (2, 2, 4, 4)


# Issue 9: masks of the wrong rank, fully masked rows on every path, empty batches, the growing cache.


@pytest.mark.parametrize("shape", [(4, 4), (4,), (1, 1, 4, 4)], ids=["2-D", "1-D", "4-D"])
def test_multihead_refuses_masks_that_are_not_3d(shape):
    mha = MultiHeadedAttention(h=4, d_model=16, dropout=0.0)
    x = torch.randn(2, 4, 16)
    with pytest.raises(ValueError, match=rf"mask: expected 3 dimensions .*got shape \({shape[0]},"):
        mha(x, x, x, torch.ones(shape, dtype=torch.bool))


def test_attention_function_broadcasts_a_2d_mask_like_its_3d_and_4d_forms():
    q, k, v = torch.randn(3, 2, 2, 5, 8).unbind(0)  # (batch=2, h=2, len=5, d_k=8) each
    causal = subsequent_mask(5)  # (1, 5, 5)
    expected, _ = attention(q, k, v, causal.unsqueeze(0))  # (1, 1, 5, 5)
    for mask in (causal[0], causal):
        torch.testing.assert_close(attention(q, k, v, mask)[0], expected, rtol=0, atol=0)


def test_fully_masked_rows_are_zero_on_the_fast_path_whatever_the_backend_returns(monkeypatch):
    # On CUDA in bf16 the SDPA kernel returns arbitrary values for a query that may attend to nothing. The
    # CPU kernel returns zeros, so stand in a backend that returns garbage there, as that one does.
    real = F.scaled_dot_product_attention

    def sloppy(q, k, v, attn_mask=None, **kwargs):
        return real(q, k, v, attn_mask=attn_mask, **kwargs) + 7.0 * ~attn_mask.any(-1, keepdim=True)

    monkeypatch.setattr(F, "scaled_dot_product_attention", sloppy)
    torch.manual_seed(0)
    mha = MultiHeadedAttention(h=2, d_model=8, dropout=0.0)
    x = torch.randn(1, 3, 8)
    mask = torch.tensor([[[True, True, False], [False, False, False], [True, False, False]]])
    fast = mha(x, x, x, mask)
    mha.keep_attn = True
    torch.testing.assert_close(fast, mha(x, x, x, mask))
    torch.testing.assert_close(fast[0, 1], mha.out_proj.bias)  # zero attention output, then the projection


def test_empty_batch_gives_an_empty_result_of_the_right_shape():
    mha = MultiHeadedAttention(h=4, d_model=16, dropout=0.0)
    x = torch.randn(0, 5, 16)
    assert mha(x, x, x, torch.ones(0, 1, 5, dtype=torch.bool)).shape == (0, 5, 16)


def test_kv_cache_grows_in_chunks_and_holds_what_cat_would():
    cache = KVCache()
    keys, capacities = [], set()
    for step in range(40):
        k = torch.full((2, 3, 1, 4), float(step))
        keys.append(k)
        key, value = cache.append(k, -k)
        capacities.add(cache._key.size(2))
        assert torch.equal(key, torch.cat(keys, dim=2)) and torch.equal(value, -key)
    assert cache.length == 40 and capacities == {16, 32, 64}  # three buffers for 40 steps, not 40 copies


def test_kv_cache_reorder_keeps_the_chosen_rows_and_keeps_growing():
    cache = KVCache()
    k = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 2, 20, 4)  # row i holds i everywhere, past one buffer
    cache.append(k, -k)
    cache.reorder(torch.tensor([2, 0, 0]))
    assert cache.length == 20 and cache.key[:, 0, 0, 0].tolist() == [2.0, 0.0, 0.0]
    key, value = cache.append(torch.full((3, 2, 1, 4), 9.0), torch.full((3, 2, 1, 4), -9.0))
    assert key.shape == (3, 2, 21, 4) and key[:, 0, :20, 0].tolist() == [[2.0] * 20, [0.0] * 20, [0.0] * 20]
    assert torch.equal(value[:, :, :20], -key[:, :, :20]) and (key[:, :, 20] == 9.0).all()


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [1, 0, 3, 2], [2, 2, 2, 0], [3, 1, 1, 0], [1, 3]])
def test_kv_cache_reorder_equals_indexing_the_rows_whether_they_swap_repeat_or_stay(order):
    """A reorder of the same size copies only the rows that change; rows may swap. Another size selects rows."""
    keys = torch.randn(4, 2, 5, 3)
    cache = KVCache()
    cache.append(keys, -keys)
    cache.reorder(torch.tensor(order))
    assert torch.equal(cache.key, keys[order]) and torch.equal(cache.value, -keys[order])
