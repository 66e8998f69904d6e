"""Sinusoidal positional encoding (section 3.5 of the paper)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from transformer._checks import check_shape


def sinusoid_table(max_len: int, d_model: int) -> Tensor:
    r"""The table of sines and cosines, one row per position.

    $$
    PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d_{model}}), \quad
    PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/d_{model}})
    $$

    Args:
        max_len: Number of positions.
        d_model: Size of each encoding vector.

    Returns:
        The table, shape ``(max_len, d_model)``.

    Examples:
        >>> sinusoid_table(50, 16).shape
        torch.Size([50, 16])
    """
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
    # 10000^(-2i/d_model) computed in log space, as exp of a product, to stay accurate.
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])  # an odd d_model has one cosine fewer
    return pe


class PositionalEncoding(nn.Module):
    """Add the sinusoidal position of each token to its embedding, then apply dropout.

    The table is a non-persistent buffer: it moves with ``.to(device)`` but is not stored in checkpoints,
    since it is computed from ``d_model`` and ``max_len`` alone.

    Args:
        d_model: Size of the embeddings.
        dropout: Dropout probability applied to the sum.
        max_len: Longest sequence this module accepts.

    Shape:
        - Input: ``(batch, seq_len, d_model)`` with ``seq_len <= max_len``.
        - Output: ``(batch, seq_len, d_model)``.

    Examples:
        >>> pe = PositionalEncoding(d_model=16, dropout=0.0, max_len=50)
        >>> pe(torch.zeros(2, 10, 16)).shape
        torch.Size([2, 10, 16])
    """

    def __init__(self, d_model: int, dropout: float, max_len: int = 5000) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.d_model = d_model
        self.max_len = max_len
        self.register_buffer("pe", sinusoid_table(max_len, d_model).unsqueeze(0), persistent=False)
        self.pe: Tensor  # (1, max_len, d_model)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        """Add the encodings of positions ``start .. start + seq_len - 1`` to ``x``.

        Args:
            x: Embeddings, shape ``(batch, seq_len, d_model)``.
            start: Position of the first token of ``x``; non-zero when a decoder is fed one token at a time.

        Returns:
            ``dropout(x + PE)``, shape ``(batch, seq_len, d_model)``.

        Raises:
            ValueError: If ``x`` is not of shape ``(batch, seq_len, d_model)`` or the positions go past
                ``max_len``.
        """
        check_shape("x", x, ("batch", "seq_len", ("d_model", self.d_model)))
        end = start + x.size(1)
        if end > self.max_len:
            raise ValueError(
                f"x: sequence of length {end} is longer than the positional table's max_len={self.max_len}; "
                f"build the model with a larger max_len"
            )
        return self.dropout(x + self.pe[:, start:end])
