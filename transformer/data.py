"""Batches with their masks, and the copy task: the toy data the model learns to reproduce."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from transformer.masks import padding_mask, target_mask

PAD = 0
BOS = 1
EOS = 2


class Batch:
    """A batch of source and target ids with the masks the model needs.

    The target is shifted: the decoder reads ``tgt[:, :-1]`` and learns to predict ``tgt[:, 1:]``.

    Args:
        src: Source ids, shape ``(batch, src_len)``.
        tgt: Target ids, shape ``(batch, tgt_len + 1)``, starting with the start symbol; ``None`` at inference.
        pad: The padding id.

    Attributes:
        src: ``(batch, src_len)``.
        src_mask: ``(batch, 1, src_len)``.
        tgt: Decoder input, ``(batch, tgt_len)``.
        tgt_y: What the decoder should predict, ``(batch, tgt_len)``.
        tgt_mask: ``(batch, tgt_len, tgt_len)``.
        ntokens: Number of non-padding tokens in ``tgt_y`` (an int).

    Examples:
        >>> b = Batch(torch.tensor([[1, 5, 6]]), torch.tensor([[1, 5, 6]]))
        >>> b.tgt, b.tgt_y, b.ntokens
        (tensor([[1, 5]]), tensor([[5, 6]]), 2)
    """

    def __init__(self, src: Tensor, tgt: Tensor | None = None, pad: int = PAD) -> None:
        self.src = src
        self.src_mask = padding_mask(src, pad)
        if tgt is not None:
            self.tgt = tgt[:, :-1]
            self.tgt_y = tgt[:, 1:]
            self.tgt_mask = self.make_std_mask(self.tgt, pad)
            self.ntokens = int((self.tgt_y != pad).sum())

    @staticmethod
    def make_std_mask(tgt: Tensor, pad: int) -> Tensor:
        """Hide padding and future words: ``(batch, tgt_len)`` -> ``(batch, tgt_len, tgt_len)``."""
        return target_mask(tgt, pad)


def data_gen(
    V: int,  # noqa: N803 (the Annotated Transformer's name)
    batch_size: int,
    nbatches: int,
    seq_len: int = 10,
    *,
    start_symbol: int = BOS,
    end_symbol: int | None = None,
    pad: int = PAD,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Iterator[Batch]:
    """Random batches for the copy task: the target is the source.

    Every row starts with ``start_symbol`` (the same symbol ``greedy_decode`` must start from). Without an
    ``end_symbol`` every row has ``seq_len`` tokens. With one, each row holds 1 to ``seq_len - 2`` random
    tokens, then ``end_symbol``, then padding, so the model also learns where to stop.

    Args:
        V: Vocabulary size. Random tokens are drawn from the ids above every special symbol.
        batch_size: Rows per batch.
        nbatches: Number of batches to yield.
        seq_len: Length of each row, start (and end) symbol included.
        start_symbol: First token of every row.
        end_symbol: Token that ends each row, or ``None`` for fixed-length rows.
        pad: Padding id.
        generator: Source of randomness, for reproducible data. Its state after a batch is the stream's
            position: a copy of it (``get_state``/``set_state``) continues the stream from there.
        device: Where the batches go (``None``: where the rows are drawn). The rows are drawn where
            ``generator`` lives (the CPU by default), so a seed gives the same rows on every device.

    Yields:
        ``Batch(src, tgt)`` with ``src`` and ``tgt`` equal, shape ``(batch_size, seq_len)``.

    Raises:
        ValueError: If no ids are left for random tokens, or ``seq_len`` is too short.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> batch = next(data_gen(V=11, batch_size=2, nbatches=1, seq_len=5, generator=g))
        >>> batch.src[:, 0], batch.src.shape
        (tensor([1, 1]), torch.Size([2, 5]))
    """
    specials = [s for s in (pad, start_symbol, end_symbol) if s is not None]
    first = max(specials) + 1
    if first >= V:
        raise ValueError(f"V={V} leaves no ids for random tokens above the special ids {specials}")
    shortest = 2 if end_symbol is None else 3
    if seq_len < shortest:
        raise ValueError(f"seq_len={seq_len} is too short: rows need at least {shortest} tokens")
    drawn_on = generator.device if generator is not None else None
    for _ in range(nbatches):
        data = torch.randint(first, V, (batch_size, seq_len), generator=generator, device=drawn_on)
        data[:, 0] = start_symbol
        if end_symbol is not None:
            # How many random tokens each row keeps, (batch_size, 1).
            lengths = torch.randint(1, seq_len - 1, (batch_size, 1), generator=generator, device=drawn_on)
            position = torch.arange(seq_len, device=data.device).unsqueeze(0)  # (1, seq_len)
            data = data.masked_fill(position == lengths + 1, end_symbol)
            data = data.masked_fill(position > lengths + 1, pad)
        data = data.to(device)
        yield Batch(data, data.clone(), pad)
