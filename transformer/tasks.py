"""Toy tasks end to end: train a model on the copy task and measure how well it decodes unseen sequences."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from transformer.data import BOS, EOS, PAD, data_gen
from transformer.decoding import greedy_decode
from transformer.model import EncoderDecoder, make_model
from transformer.training import StepStats, rate, train_steps


@dataclass(frozen=True)
class CopyTask:
    """The copy task and a recipe that learns it.

    Attributes:
        vocab: Vocabulary size, special ids included.
        seq_len: Tokens per row, start (and end) symbol included.
        end_symbol: Whether rows have random lengths and end with ``EOS``.
        steps: Optimizer steps.
        batch_size: Rows per step (over all processes together).
        warmup: Warm-up steps of the ``rate`` schedule.
        factor: Scale of the ``rate`` schedule.
        cooldown: Fraction of the steps, at the end, over which the rate falls linearly to 0.
        N: Layers in the encoder and in the decoder.
        d_model: Size of the model's vectors.
        d_ff: Hidden size of the feed-forward networks.
        h: Attention heads.
        dropout: Dropout probability.
        seed: Seed of the weights and the data.
    """

    vocab: int = 11
    seq_len: int = 10
    end_symbol: bool = False
    steps: int = 300
    batch_size: int = 128
    warmup: int = 100
    factor: float = 2.0
    cooldown: float = 0.3
    N: int = 2
    d_model: int = 64
    d_ff: int = 128
    h: int = 4
    dropout: float = 0.0
    seed: int = 0

    def build_model(self) -> EncoderDecoder:
        """A fresh model for this task, initialised from ``seed``."""
        torch.manual_seed(self.seed)
        return make_model(self.vocab, self.vocab, self.N, self.d_model, self.d_ff, self.h, self.dropout)

    def train(self, model: nn.Module, rank: int = 0, world_size: int = 1) -> Iterator[StepStats]:
        """Train ``model`` (possibly wrapped in ``DistributedDataParallel``), yielding after every step.

        Each process draws its own rows (its seed depends on ``rank``) and takes ``batch_size // world_size``
        of them per step, so the global batch and the schedule do not depend on the number of processes.
        """
        optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.learning_rate)
        criterion = nn.CrossEntropyLoss(reduction="sum", ignore_index=PAD)
        generator = torch.Generator().manual_seed(self.seed * 1000 + rank)
        batches = data_gen(
            self.vocab,
            self.batch_size // world_size,
            self.steps,
            self.seq_len,
            end_symbol=EOS if self.end_symbol else None,
            generator=generator,
        )
        return train_steps(model, batches, criterion, optimizer, scheduler)

    def learning_rate(self, step: int) -> float:
        """The paper's ``rate``, brought down linearly to 0 over the last ``cooldown`` of the steps.

        The paper's schedule decays slowly; at the end of a short run its rate is still high enough for single
        batches to knock a few held-out rows off. Landing at 0 makes the last weights the best ones.
        """
        remaining = (self.steps - step) / (self.cooldown * self.steps) if self.cooldown else 1.0
        return rate(step, self.d_model, self.factor, self.warmup) * min(1.0, remaining)

    def exact_match(self, model: EncoderDecoder, n: int = 1000, seed: int = 12345) -> float:
        """Fraction of ``n`` freshly generated rows that greedy decoding reproduces exactly.

        Args:
            model: A trained model.
            n: Number of held-out rows.
            seed: Seed of the held-out rows (different from the training seeds).

        Returns:
            A number between 0 and 1.
        """
        end_symbol = EOS if self.end_symbol else None
        batch = next(
            data_gen(
                self.vocab, n, 1, self.seq_len, end_symbol=end_symbol, generator=torch.Generator().manual_seed(seed)
            )
        )
        model.eval()
        out = greedy_decode(model, batch.src, batch.src_mask, self.seq_len, BOS, end_symbol)
        out = F.pad(out, (0, self.seq_len - out.size(1)), value=PAD)  # decoding may stop early
        return round((out == batch.src).all(dim=1).float().mean().item(), 4)
