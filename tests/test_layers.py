import pytest
import torch
from torch import nn

from transformer import LayerNorm, PositionwiseFeedForward, SublayerConnection


def test_layer_norm_equals_nn_layer_norm():
    torch.manual_seed(0)
    ours, theirs = LayerNorm(64), nn.LayerNorm(64)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    theirs.load_state_dict(ours.state_dict())  # same parameter names
    x = torch.randn(4, 10, 64) * 3 + 1
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=0)


def test_annotated_transformer_layer_norm_differs():
    """The Annotated Transformer's (x - mean) / (std + eps), unbiased std, is not nn.LayerNorm."""
    x = torch.randn(3, 8)
    annotated = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-6)
    assert not torch.allclose(annotated, nn.LayerNorm(8, elementwise_affine=False)(x), atol=1e-3)


def test_layer_norm_wrong_size():
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., features=8\), got \(2, 4\)"):
        LayerNorm(8)(torch.zeros(2, 4))


def test_sublayer_connection_placements():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8)
    double = lambda t: 2 * t  # noqa: E731
    pre = SublayerConnection(8, dropout=0.0, norm_first=True)
    post = SublayerConnection(8, dropout=0.0, norm_first=False)
    torch.testing.assert_close(pre(x, double), x + 2 * pre.norm(x))
    torch.testing.assert_close(post(x, double), post.norm(3 * x))


def test_feed_forward_shape_and_error():
    ff = PositionwiseFeedForward(8, 32, dropout=0.0)
    assert ff(torch.zeros(2, 5, 8)).shape == (2, 5, 8)
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, seq_len, d_model=8\), got \(2, 5, 7\)"):
        ff(torch.zeros(2, 5, 7))
