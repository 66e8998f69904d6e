"""Every mask of the package is built here. Boolean, ``True`` = may attend (as ``F.scaled_dot_product_attention``).

``nn.MultiheadAttention`` and ``nn.Transformer`` use the opposite polarity: pass them ``~mask``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from transformer._checks import check_shape


def subsequent_mask(size: int) -> Tensor:
    """The causal mask: position ``i`` may attend to positions ``0 .. i`` only.

    Args:
        size: Sequence length.

    Returns:
        Boolean, shape ``(1, size, size)``, ``True`` on and below the diagonal.

    Examples:
        >>> subsequent_mask(3).int()
        tensor([[[1, 0, 0],
                 [1, 1, 0],
                 [1, 1, 1]]], dtype=torch.int32)
    """
    return torch.ones(1, size, size, dtype=torch.bool).tril()


def padding_mask(seq: Tensor, pad: int) -> Tensor:
    """``True`` at real tokens, ``False`` at padding, shaped to broadcast over query positions.

    Args:
        seq: Token ids, shape ``(batch, seq_len)``.
        pad: The padding id.

    Returns:
        Boolean, shape ``(batch, 1, seq_len)``.

    Raises:
        ValueError: If ``seq`` is not of shape ``(batch, seq_len)``.

    Examples:
        >>> padding_mask(torch.tensor([[5, 6, 0]]), pad=0)
        tensor([[[ True,  True, False]]])
    """
    check_shape("seq", seq, ("batch", "seq_len"))
    return (seq != pad).unsqueeze(-2)


def target_mask(tgt: Tensor, pad: int) -> Tensor:
    """The decoder's self-attention mask: hide padding and future positions.

    Args:
        tgt: Target token ids, shape ``(batch, tgt_len)``.
        pad: The padding id.

    Returns:
        Boolean, shape ``(batch, tgt_len, tgt_len)``.

    Raises:
        ValueError: If ``tgt`` is not of shape ``(batch, tgt_len)``.

    Examples:
        >>> target_mask(torch.tensor([[1, 7, 0]]), pad=0).int()
        tensor([[[1, 0, 0],
                 [1, 1, 0],
                 [1, 1, 0]]], dtype=torch.int32)
    """
    check_shape("tgt", tgt, ("batch", "tgt_len"))
    return padding_mask(tgt, pad) & subsequent_mask(tgt.size(-1)).to(tgt.device)
