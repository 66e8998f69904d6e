"""The decoder: a stack of N identical layers that reads the memory and predicts the target one token ahead."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from transformer._checks import check_shape
from transformer.attention import KVCache, MultiHeadedAttention
from transformer.layers import PositionwiseFeedForward, SublayerConnection, clones


@dataclass
class DecoderCache:
    """What incremental decoding keeps between steps: per layer, the self- and source-attention caches.

    Attributes:
        layers: One ``(self_attn, src_attn)`` pair of ``KVCache`` per decoder layer.
        length: Number of target positions already decoded and cached.
    """

    layers: list[tuple[KVCache, KVCache]] = field(default_factory=list)
    length: int = 0

    @classmethod
    def empty(cls, n_layers: int) -> DecoderCache:
        """A cache for a decoder of ``n_layers`` layers, before the first step."""
        return cls([(KVCache(), KVCache(static=True)) for _ in range(n_layers)])

    def reorder(self, indices: Tensor) -> None:
        """Keep the cached rows ``indices`` of the batch in every layer (see ``KVCache.reorder``).

        Args:
            indices: Row numbers of the current batch, shape ``(new_batch,)``.
        """
        for self_cache, src_cache in self.layers:
            self_cache.reorder(indices)
            src_cache.reorder(indices)


class DecoderLayer(nn.Module):
    """Masked self-attention, source attention over the memory, then feed-forward.

    Args:
        size: ``d_model``.
        self_attn: Attention of the target over itself (masked so a position sees only earlier ones).
        src_attn: Attention of the target over the memory (the encoder's output).
        feed_forward: The position-wise feed-forward module.
        dropout: Dropout probability of the residual connections.
        norm_first: Pre-LN (``True``) or post-LN (``False``); see ``SublayerConnection``.

    Shape:
        - ``x``: ``(batch, tgt_len, d_model)``.
        - ``memory``: ``(batch, src_len, d_model)``.
        - ``src_mask``: ``(batch, 1, src_len)``.
        - ``tgt_mask``: ``(batch, tgt_len, tgt_len)``, padding and ``subsequent_mask`` combined.
        - Output: ``(batch, tgt_len, d_model)``.
    """

    def __init__(
        self,
        size: int,
        self_attn: MultiHeadedAttention,
        src_attn: MultiHeadedAttention,
        feed_forward: PositionwiseFeedForward,
        dropout: float,
        norm_first: bool = True,
    ) -> None:
        super().__init__()
        self.size = size
        self.self_attn = self_attn
        self.src_attn = src_attn
        self.feed_forward = feed_forward
        self.sublayer = clones(SublayerConnection(size, dropout, norm_first), 3)
        self.norm_first = norm_first

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        src_mask: Tensor | None,
        tgt_mask: Tensor | None,
        cache: tuple[KVCache, KVCache] | None = None,
    ) -> Tensor:
        """Run one decoder layer.

        Args:
            x: The target so far, ``(batch, tgt_len, d_model)``; with a cache, only the new positions.
            memory: ``(batch, src_len, d_model)``.
            src_mask: ``(batch, 1, src_len)``.
            tgt_mask: ``(batch, tgt_len, tgt_len)``; with a cache, ``(batch, new_len, cached + new_len)``.
            cache: This layer's ``(self_attn, src_attn)`` caches, for incremental decoding.

        Raises:
            ValueError: If ``x`` or ``memory`` is not of shape ``(batch, len, d_model)``.
        """
        check_shape("x", x, ("batch", "tgt_len", ("d_model", self.size)))
        check_shape("memory", memory, ("batch", "src_len", ("d_model", self.size)))
        self_cache, src_cache = cache if cache is not None else (None, None)
        m = memory
        x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, tgt_mask, self_cache))
        x = self.sublayer[1](x, lambda x: self.src_attn(x, m, m, src_mask, src_cache))
        return self.sublayer[2](x, self.feed_forward)


class Decoder(nn.Module):
    """``N`` copies of a ``DecoderLayer``; with pre-LN, a final layer norm (see ``Encoder``).

    Args:
        layer: The layer to copy.
        N: Number of layers.

    Shape:
        - ``x``: ``(batch, tgt_len, d_model)``, the embedded target.
        - ``memory``: ``(batch, src_len, d_model)``.
        - Output: ``(batch, tgt_len, d_model)``.
    """

    def __init__(self, layer: DecoderLayer, N: int) -> None:  # noqa: N803 (the paper's name)
        super().__init__()
        self.layers = clones(layer, N)
        self.norm = nn.LayerNorm(layer.size) if layer.norm_first else nn.Identity()

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        src_mask: Tensor | None,
        tgt_mask: Tensor | None,
        cache: DecoderCache | None = None,
    ) -> Tensor:
        """Pass the target through each layer; with a ``cache``, ``x`` holds only the new positions."""
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, src_mask, tgt_mask, None if cache is None else cache.layers[i])
        if cache is not None:
            cache.length += x.size(1)
        return self.norm(x)
