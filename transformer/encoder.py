"""The encoder: a stack of N identical layers that turns the source into the "memory" the decoder reads."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from transformer._checks import check_shape
from transformer.attention import KVCache, MultiHeadedAttention
from transformer.layers import PositionwiseFeedForward, SublayerConnection, clones


class EncoderLayer(nn.Module):
    """Self-attention, then a feed-forward network, each inside a ``SublayerConnection``.

    Args:
        size: ``d_model``.
        self_attn: The self-attention module.
        feed_forward: The position-wise feed-forward module.
        dropout: Dropout probability of the residual connections.
        norm_first: Pre-LN (``True``) or post-LN (``False``); see ``SublayerConnection``.

    Shape:
        - ``x``: ``(batch, src_len, d_model)``.
        - ``mask``: ``(batch, 1, src_len)``, ``True`` at real (non-padding) tokens.
        - Output: ``(batch, src_len, d_model)``.
    """

    def __init__(
        self,
        size: int,
        self_attn: MultiHeadedAttention,
        feed_forward: PositionwiseFeedForward,
        dropout: float,
        norm_first: bool = True,
    ) -> None:
        super().__init__()
        self.self_attn = self_attn
        self.feed_forward = feed_forward
        self.sublayer = clones(SublayerConnection(size, dropout, norm_first), 2)
        self.size = size
        self.norm_first = norm_first

    def forward(self, x: Tensor, mask: Tensor | None, cache: KVCache | None = None) -> Tensor:
        """Run one encoder layer.

        Args:
            x: ``(batch, src_len, d_model)``; with a cache, only the new positions.
            mask: ``(batch, 1, src_len)`` for padding; a decoder-only model (``transformer.lm``) passes the causal
                ``(batch, new_len, cached + new_len)`` mask instead, the same layer with the decoder's mask.
            cache: The self-attention's keys and values of earlier positions, for a decoder-only model's
                incremental decoding.

        Raises:
            ValueError: If ``x`` is not of shape ``(batch, src_len, d_model)``.
        """
        check_shape("x", x, ("batch", "src_len", ("d_model", self.size)))
        x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, mask, cache))
        return self.sublayer[1](x, self.feed_forward)


class Encoder(nn.Module):
    """``N`` copies of an ``EncoderLayer``; with pre-LN, a final layer norm.

    Pre-LN layers add every sub-layer's output to an un-normalised residual stream, so the stack ends with one
    more ``nn.LayerNorm``. Post-LN layers already end in a norm and get none.

    Args:
        layer: The layer to copy.
        N: Number of layers.

    Shape:
        - ``x``: ``(batch, src_len, d_model)``, the embedded source.
        - ``mask``: ``(batch, 1, src_len)``.
        - Output: ``(batch, src_len, d_model)``, the memory.
    """

    def __init__(self, layer: EncoderLayer, N: int) -> None:  # noqa: N803 (the paper's name)
        super().__init__()
        self.layers = clones(layer, N)
        self.norm = nn.LayerNorm(layer.size) if layer.norm_first else nn.Identity()

    def forward(self, x: Tensor, mask: Tensor | None, cache: Sequence[KVCache] | None = None) -> Tensor:
        """Pass the input (and mask) through each layer in turn; ``cache`` holds one ``KVCache`` per layer."""
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, None if cache is None else cache[i])
        return self.norm(x)
