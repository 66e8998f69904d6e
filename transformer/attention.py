"""Scaled dot-product attention and multi-head attention (sections 3.2.1 and 3.2.2 of the paper).

Masks are boolean everywhere in this package: ``True`` means "may attend", as in
``F.scaled_dot_product_attention``. ``nn.MultiheadAttention`` uses the opposite polarity (``True`` = masked out).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transformer._checks import check_mask, check_same_size, check_shape


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Scaled dot-product attention, written out step by step.

    $$
    \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right) V
    $$

    This is the readable reference; ``MultiHeadedAttention`` calls ``F.scaled_dot_product_attention``, which
    the tests prove equal. A query whose mask row is all ``False`` gets zero weights and a zero output, as in
    ``F.scaled_dot_product_attention`` (the Annotated Transformer's ``-1e9`` would average over every key).

    Args:
        query: Queries, shape ``(..., q_len, d_k)``; the leading dims are usually ``(batch, h)``.
        key: Keys, shape ``(..., k_len, d_k)``.
        value: Values, shape ``(..., k_len, d_v)``.
        mask: Boolean, ``True`` where a query may attend to a key; must broadcast to
            ``(..., q_len, k_len)``.
        dropout: Applied to the attention weights, e.g. ``nn.Dropout(0.1)``.

    Returns:
        ``(output, weights)``: the output, shape ``(..., q_len, d_v)``, and the attention weights, shape
        ``(..., q_len, k_len)``, each row summing to 1 (or 0 where everything is masked).

    Raises:
        ValueError: If the shapes of ``query``, ``key`` and ``value`` do not fit together, or ``mask`` does
            not broadcast to the scores.
        TypeError: If ``mask`` is not boolean.

    Examples:
        >>> q = k = v = torch.eye(3).unsqueeze(0)  # (1, 3, 3)
        >>> out, weights = attention(q, k, v)
        >>> out.shape, weights.shape
        (torch.Size([1, 3, 3]), torch.Size([1, 3, 3]))
    """
    check_same_size("query", query.size(-1), "key", key.size(-1), "last dimension d_k")
    check_same_size("key", key.size(-2), "value", value.size(-2), "length k_len (dimension -2)")
    d_k = query.size(-1)
    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)  # (..., q_len, k_len)
    if mask is not None:
        check_mask("mask", mask, scores.shape, "attention scores (..., q_len, k_len)")
        scores = scores.masked_fill(~mask, float("-inf"))
    p_attn = scores.softmax(dim=-1)
    if mask is not None:
        # A row of -inf gives 0/0 = nan in softmax; such a query attends to nothing.
        p_attn = p_attn.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    if dropout is not None:
        p_attn = dropout(p_attn)
    return p_attn @ value, p_attn  # (..., q_len, d_v), (..., q_len, k_len)


class KVCache:
    """Keys and values already projected for one attention module, reused between decoding steps.

    Decoder self-attention appends the new positions at every step. Concatenating with ``torch.cat`` would copy
    the whole cache each time (quadratic in the output length); the cache instead keeps a buffer that doubles
    when full, so appending copies only the new positions and, now and then, the buffer once.

    Args:
        static: ``True`` for source attention, whose keys and values (from the memory) never change: they are
            projected once. ``False`` for decoder self-attention: each step appends the new positions.

    Attributes:
        static: As given.
        length: Number of cached positions.
    """

    def __init__(self, static: bool = False) -> None:
        self.static = static
        self.length = 0
        self._key: Tensor | None = None  # (batch, h, capacity, d_k), capacity >= length
        self._value: Tensor | None = None

    @property
    def key(self) -> Tensor | None:
        """Cached keys, shape ``(batch, h, length, d_k)``, or ``None`` before the first step."""
        return None if self._key is None else self._key[:, :, : self.length]

    @property
    def value(self) -> Tensor | None:
        """Cached values, shape ``(batch, h, length, d_k)``, or ``None`` before the first step."""
        return None if self._value is None else self._value[:, :, : self.length]

    def append(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Add the keys and values of new positions; return all cached ones.

        Args:
            key: Keys of the new positions, shape ``(batch, h, new_len, d_k)``.
            value: Their values, the same shape.

        Returns:
            ``(key, value)`` of every cached position, shape ``(batch, h, length, d_k)`` each.
        """
        end = self.length + key.size(2)
        if self._key is None or end > self._key.size(2):
            capacity = max(end, 2 * self.length, 16)
            grown_key = key.new_empty(*key.shape[:2], capacity, key.size(3))
            grown_value = value.new_empty(*value.shape[:2], capacity, value.size(3))
            if self._key is not None:
                grown_key[:, :, : self.length] = self.key
                grown_value[:, :, : self.length] = self.value
            self._key, self._value = grown_key, grown_value
        self._key[:, :, self.length : end] = key
        self._value[:, :, self.length : end] = value
        self.length = end
        return self.key, self.value

    def reorder(self, indices: Tensor) -> None:
        """Keep the cached rows ``indices`` of the batch, in that order (beam search moves hypotheses this way).

        Args:
            indices: Row numbers of the current batch, shape ``(new_batch,)``; a row may be repeated or dropped.
        """
        if self._key is None:
            return
        if indices.numel() == self._key.size(0):
            # Beam search reorders at every step, and most rows keep their own history: copy only the others.
            moved = (indices != torch.arange(indices.numel(), device=indices.device)).nonzero().squeeze(1)
            # The right-hand side is gathered before anything is written, so rows may swap.
            self._key[moved] = self._key[indices[moved]]
            self._value[moved] = self._value[indices[moved]]
        else:
            self._key = self._key.index_select(0, indices)  # (new_batch, h, capacity, d_k)
            self._value = self._value.index_select(0, indices)


class MultiHeadedAttention(nn.Module):
    r"""Multi-head attention: ``h`` attentions of size ``d_k = d_model / h`` side by side.

    $$
    \mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h) W^O, \quad
    \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V)
    $$

    The projections of all heads are packed into one ``nn.Linear`` each (``q_proj``, ``k_proj``, ``v_proj``),
    the output projection $W^O$ is ``out_proj``. By default the heads run through
    ``F.scaled_dot_product_attention``; set ``keep_attn = True`` to run the readable ``attention`` instead and
    keep its weights in ``self.attn`` for plotting.

    Args:
        h: Number of heads.
        d_model: Size of the model's vectors; must be divisible by ``h``.
        dropout: Dropout probability on the attention weights.

    Attributes:
        keep_attn: When ``True``, ``forward`` stores the attention weights in ``attn``.
        attn: The last attention weights, shape ``(batch, h, q_len, k_len)``, or ``None``.

    Raises:
        ValueError: If ``d_model`` is not divisible by ``h``.

    Examples:
        >>> mha = MultiHeadedAttention(h=8, d_model=512)
        >>> x = torch.zeros(2, 8, 512)
        >>> mha(x, x, x).shape
        torch.Size([2, 8, 512])
    """

    def __init__(self, h: int, d_model: int, dropout: float = 0.1) -> None:
        super().__init__()
        if d_model % h != 0:
            raise ValueError(f"d_model={d_model} must be divisible by the number of heads h={h}")
        self.h = h
        self.d_model = d_model
        self.d_k = d_model // h
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(p=dropout)
        self.keep_attn = False
        self.attn: Tensor | None = None

    def _split_heads(self, x: Tensor) -> Tensor:
        # Explicit sizes, not view(batch, -1, ...): -1 is ambiguous when the batch is empty.
        return x.view(x.size(0), x.size(1), self.h, self.d_k).transpose(1, 2)  # (batch, h, len, d_k)

    def _keys_values(self, key: Tensor, value: Tensor, cache: KVCache | None) -> tuple[Tensor, Tensor]:
        if cache is not None and cache.static and cache.length:
            return cache.key, cache.value
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))
        if cache is not None:
            k, v = cache.append(k, v)  # (batch, h, past + new, d_k)
        return k, v

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Attend from every query position to the key/value positions, in ``h`` heads.

        Args:
            query: Shape ``(batch, q_len, d_model)``.
            key: Shape ``(batch, k_len, d_model)``.
            value: Shape ``(batch, k_len, d_model)``.
            mask: Boolean, ``True`` where attending is allowed, with three dimensions that broadcast to
                ``(batch, q_len, k_len)``: ``(batch, 1, k_len)`` for padding, ``(1, q_len, q_len)`` for
                ``subsequent_mask``. The same mask applies to every head. A query whose row is all ``False``
                gets zero weights and a zero output from every head, so ``out_proj.bias`` after the output
                projection, on every backend and dtype.
            cache: Keys and values of earlier decoding steps (see ``KVCache``); ``k_len`` in ``mask`` then
                counts the cached positions too.

        Returns:
            Shape ``(batch, q_len, d_model)``.

        Raises:
            ValueError: If an input's last dimension is not ``d_model``, the batch sizes differ, or the mask
                does not have three dimensions that broadcast to ``(batch, q_len, k_len)`` (a 2-D
                ``(q_len, k_len)`` mask, as ``nn.Transformer`` takes, would line its rows up with the batch).
            TypeError: If ``mask`` is not boolean.
        """
        check_shape("query", query, ("batch", "q_len", ("d_model", self.d_model)))
        check_shape("key", key, ("batch", "k_len", ("d_model", self.d_model)))
        check_shape("value", value, ("batch", "k_len", ("d_model", self.d_model)))
        check_same_size("query", query.size(0), "key", key.size(0), "batch size")
        check_same_size("key", tuple(key.shape[:2]), "value", tuple(value.shape[:2]), "(batch, k_len)")
        batch, q_len = query.shape[:2]

        q = self._split_heads(self.q_proj(query))  # (batch, h, q_len, d_k)
        k, v = self._keys_values(key, value, cache)  # (batch, h, k_len, d_k) each
        if mask is not None:
            check_mask("mask", mask, (batch, q_len, k.size(2)), "scores (batch, q_len, k_len)", exact_rank=True)
            mask = mask.unsqueeze(1)  # the same mask for every head: (batch or 1, 1, q_len or 1, k_len)

        if self.keep_attn:
            x, self.attn = attention(q, k, v, mask=mask, dropout=self.dropout)
        else:
            dropout_p = self.dropout.p if self.training else 0.0
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
            if mask is not None:
                # Some backends (CUDA, bf16) return arbitrary values for a query that may attend to nothing;
                # attention() gives zeros, and so must every path.
                x = x.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
        x = x.transpose(1, 2).reshape(batch, q_len, self.d_model)  # (batch, q_len, h * d_k)
        return self.out_proj(x)
