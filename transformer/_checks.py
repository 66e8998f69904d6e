"""Argument checks shared by the public functions and modules.

Every message names the argument, what it got and what was expected, so that a learner who passes the wrong
thing reads the fix in the error instead of a broadcast that silently computes something else.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# A dimension is free (a name such as "batch"), or fixed: a size, or a name and the size it must have.
Dim = str | int | tuple[str, int]


def _describe(dim: Dim) -> str:
    if isinstance(dim, tuple):
        return f"{dim[0]}={dim[1]}"
    return str(dim)


def _fits(size: int, dim: Dim) -> bool:
    if isinstance(dim, tuple):
        return size == dim[1]
    return isinstance(dim, str) or size == dim


def check_shape(name: str, tensor: Tensor, expected: Sequence[Dim]) -> None:
    """Raise ``ValueError`` unless ``tensor`` has ``len(expected)`` dims and every fixed dim has its size.

    >>> check_shape("x", torch.zeros(2, 8, 512), ("batch", "seq_len", ("d_model", 512)))
    >>> check_shape("x", torch.zeros(2, 8, 256), ("batch", "seq_len", ("d_model", 512)))
    Traceback (most recent call last):
    ...
    ValueError: x: expected shape (batch, seq_len, d_model=512), got (2, 8, 256)
    """
    fits = tensor.dim() == len(expected) and all(_fits(s, d) for s, d in zip(tensor.shape, expected, strict=True))
    if not fits:
        described = ", ".join(_describe(d) for d in expected)
        raise ValueError(f"{name}: expected shape ({described}), got {tuple(tensor.shape)}")


def check_same_size(name: str, size: object, other_name: str, other_size: object, what: str) -> None:
    """Raise ``ValueError`` unless two sizes that must agree do agree."""
    if size != other_size:
        raise ValueError(f"{name} and {other_name} must have the same {what}, got {size} and {other_size}")


def check_mask(
    name: str, mask: Tensor, target_shape: Sequence[int], target_name: str, *, exact_rank: bool = False
) -> None:
    """Raise unless ``mask`` is boolean and broadcasts to ``target_shape`` without growing it.

    With ``exact_rank``, the mask must also have as many dimensions as the target: broadcasting aligns the last
    dimensions, so a 2-D ``(q_len, k_len)`` mask checked against ``(batch, q_len, k_len)`` would pass, and then
    line up with the wrong axes once a head axis is inserted.

    >>> causal = torch.ones(4, 4, dtype=torch.bool).tril()
    >>> check_mask("tgt_mask", causal, (1, 4, 4), "scores", exact_rank=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: tgt_mask: expected 3 dimensions (batch or 1, q_len or 1, k_len), got shape (4, 4); ...

    Raises:
        TypeError: If the mask is not boolean.
        ValueError: If the mask does not broadcast to ``target_shape`` (or, with ``exact_rank``, has another
            number of dimensions).
    """
    if mask.dtype != torch.bool:
        raise TypeError(f"{name}: expected a torch.bool mask (True = may attend), got dtype {mask.dtype}")
    if exact_rank and mask.dim() != len(target_shape):
        raise ValueError(
            f"{name}: expected 3 dimensions (batch or 1, q_len or 1, k_len), got shape {tuple(mask.shape)}; "
            "a 2-D (q_len, k_len) mask needs mask.unsqueeze(0), a (batch, k_len) padding mask needs mask.unsqueeze(1)"
        )
    target = torch.Size(target_shape)
    try:
        fits = torch.broadcast_shapes(mask.shape, target) == target
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the {target_name} of shape {tuple(target)}"
        )
