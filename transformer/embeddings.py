"""Token embeddings: integer ids in, vectors of size ``d_model`` out (section 3.4 of the paper)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ID_DTYPES = (torch.int64, torch.int32)


class Embeddings(nn.Module):
    """A lookup table from token ids to vectors, scaled by ``sqrt(d_model)``.

    The scale keeps the embeddings' magnitude comparable to the positional encoding that is added next:
    ``make_model``'s Xavier initialisation gives entries of root-mean-square ``sqrt(2 / (vocab + d_model))``,
    small next to the positional entries, which lie in ``[-1, 1]``.

    Args:
        d_model: Size of each embedding vector.
        vocab: Number of tokens in the vocabulary; valid ids are ``0 .. vocab - 1``.

    Shape:
        - Input: ``(batch, seq_len)``, integer token ids.
        - Output: ``(batch, seq_len, d_model)``.

    Examples:
        >>> emb = Embeddings(d_model=4, vocab=10)
        >>> emb(torch.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])).shape
        torch.Size([2, 4, 4])
    """

    def __init__(self, d_model: int, vocab: int) -> None:
        super().__init__()
        self.lut = nn.Embedding(vocab, d_model)
        self.d_model = d_model
        self.vocab = vocab

    def forward(self, x: Tensor) -> Tensor:
        """Look up and scale the embeddings of ``x``.

        Args:
            x: Token ids, shape ``(batch, seq_len)``.

        Returns:
            The scaled embeddings, shape ``(batch, seq_len, d_model)``.

        Raises:
            TypeError: If ``x`` is not an integer tensor.
            ValueError: If an id is negative or not smaller than ``vocab`` (checked on the CPU; on a GPU the
                embedding kernel asserts instead, without stopping to wait for the device).
        """
        if x.dtype not in ID_DTYPES:
            raise TypeError(f"x: token ids must be an integer tensor (torch.int64 or torch.int32), got dtype {x.dtype}")
        # Reading min/max waits for the device; on a GPU that stall (and the break in a CUDA graph or a
        # torch.compile graph) costs more than the check, so there nn.Embedding's own device-side assert stops
        # a bad id instead, with a less friendly message.
        checked = x.device.type == "cpu" and not torch.compiler.is_compiling()
        if checked and x.numel() and (x.min() < 0 or x.max() >= self.vocab):
            bad = x[(x < 0) | (x >= self.vocab)][0].item()
            raise ValueError(
                f"x: token id {bad} is outside the vocabulary of size {self.vocab} (0 .. {self.vocab - 1})"
            )
        return self.lut(x) * math.sqrt(self.d_model)
