"""Toy tasks end to end: train a model on the copy task and measure how well it decodes unseen sequences."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transformer.data import BOS, EOS, PAD, Batch, data_gen
from transformer.decoding import greedy_decode
from transformer.model import EncoderDecoder, make_model
from transformer.training import StepStats, rate, train_steps


@dataclass
class TrainingState:
    """What a run needs besides the weights to continue exactly where it stopped.

    ``CopyTask.start`` makes one; ``CopyTask.train`` advances it. Saved together with the weights (the command
    line writes it to ``train_state.safetensors``), it lets a resumed run end bit for bit where an uninterrupted
    one would.

    Attributes:
        optimizer: Adam, with its running moment estimates.
        scheduler: The learning-rate schedule, a ``LambdaLR`` over ``CopyTask.learning_rate``.
        generator: The data stream: the next batch is drawn from its current state.
        step: Optimizer steps taken so far.

    Examples:
        >>> task = CopyTask(steps=4, batch_size=8, N=1, d_model=16, d_ff=32, h=2)
        >>> model = task.build_model()
        >>> state = task.start(model)
        >>> steps = task.train(model, state=state)
        >>> next(steps).step, next(steps).step, state.step
        (1, 2, 2)
        >>> [stats.step for stats in task.train(model, state=state)]  # a new call continues where it stopped
        [3, 4]
    """

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    step: int = 0


class Recipe:
    """What every task's training recipe shares: its checks, its optimizer and schedule, its training loop.

    A task is a frozen dataclass that inherits these methods and has the fields below, with its own data
    (``CopyTask``, ``NumberTask``). Each process draws its own data (its seed depends on ``rank``) and takes
    ``batch_size // world_size`` examples per step, so the global batch and the schedule do not depend on the number
    of processes.

    Attributes:
        steps: Optimizer steps.
        batch_size: Examples per step (over all processes together).
        warmup: Warm-up steps of the ``rate`` schedule.
        factor: Scale of the ``rate`` schedule.
        cooldown: Fraction of the steps, at the end, over which the rate falls linearly to 0.
        N: Layers of the model (in the encoder and in the decoder).
        d_model: Size of the model's vectors.
        d_ff: Hidden size of the feed-forward networks.
        h: Attention heads.
        dropout: Dropout probability.
        seed: Seed of the weights and the data.
    """

    steps: int
    batch_size: int
    warmup: int
    factor: float
    cooldown: float
    N: int
    d_model: int
    d_ff: int
    h: int
    dropout: float
    seed: int

    def check_recipe(self) -> None:
        """Check the fields every recipe has: a bad setting fails here, not as a crash or a silently wrong run later.

        Raises:
            ValueError: If a size or a count is below 1 (``seed`` below 0), ``factor`` is not positive,
                ``cooldown`` is outside ``[0, 1]`` (a negative one makes the learning rate negative), ``dropout``
                outside ``[0, 1)``, or ``h`` does not divide ``d_model``.
        """
        for name in ("steps", "batch_size", "warmup", "N", "d_model", "d_ff", "h"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {self.seed}")
        if not self.factor > 0:
            raise ValueError(f"factor: expected a number > 0, got {self.factor}")
        if not 0 <= self.cooldown <= 1:
            raise ValueError(f"cooldown: expected a number between 0 and 1, got {self.cooldown}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: expected a number >= 0 and < 1, got {self.dropout}")
        if self.d_model % self.h:
            raise ValueError(f"d_model: expected a multiple of h={self.h}, got {self.d_model}")

    def start(self, model: nn.Module, rank: int = 0) -> TrainingState:
        """A fresh optimizer, schedule and data stream for ``model``, at step 0.

        Args:
            model: The model to train (possibly wrapped in ``DistributedDataParallel``).
            rank: This process's rank: each process draws its own data (its data seed depends on ``rank``).

        Returns:
            The state ``train`` starts from.
        """
        optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.learning_rate)
        generator = torch.Generator().manual_seed(self.seed * 1000 + rank)
        return TrainingState(optimizer, scheduler, generator)

    def learning_rate(self, step: int) -> float:
        """The paper's ``rate``, brought down linearly to 0 over the last ``cooldown`` of the steps.

        The paper's schedule decays slowly; at the end of a short run its rate is still high enough for single
        batches to knock a few held-out examples off. Landing at 0 makes the last weights the best ones.
        """
        remaining = (self.steps - step) / (self.cooldown * self.steps) if self.cooldown else 1.0
        return rate(step, self.d_model, self.factor, self.warmup) * min(1.0, remaining)

    def batches(self, state: TrainingState, size: int, device: torch.device) -> Iterator[Batch]:
        """The batches still to train on, ``size`` examples each, drawn from ``state.generator``; each task's own."""
        raise NotImplementedError

    def train(
        self,
        model: nn.Module,
        rank: int = 0,
        world_size: int = 1,
        *,
        state: TrainingState | None = None,
        autocast: torch.dtype | None = None,
    ) -> Iterator[StepStats]:
        """Train ``model`` (possibly wrapped in ``DistributedDataParallel``) up to ``steps``, yielding after every step.

        The batches (``batches``) go to the device of the model's weights.

        Args:
            model: The model, on the device to train on.
            rank: This process's rank.
            world_size: Number of processes.
            state: Where to continue from (``start``'s, advanced by an earlier call or loaded from a saved run);
                ``None`` starts afresh. Its ``step`` is kept up to date.
            autocast: Run the forward pass under ``torch.autocast`` with this dtype (``torch.bfloat16``).
        """
        state = state if state is not None else self.start(model, rank)
        # The generator returns log-probabilities: NLLLoss takes them as they are (CrossEntropyLoss expects logits).
        criterion = nn.NLLLoss(reduction="sum", ignore_index=PAD)
        batches = self.batches(state, self.batch_size // world_size, next(model.parameters()).device)
        steps = train_steps(
            model, batches, criterion, state.optimizer, state.scheduler, start=state.step, autocast=autocast
        )
        for stats in steps:
            state.step = stats.step
            yield stats


@dataclass(frozen=True)
class CopyTask(Recipe):
    """The copy task and a recipe that learns it.

    Attributes:
        vocab: Vocabulary size, special ids included.
        seq_len: Tokens per row, start (and end) symbol included.
        end_symbol: Whether rows have random lengths and end with ``EOS``.

    The other fields are the recipe's, documented with ``Recipe``; here ``batch_size`` counts rows.
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

    def __post_init__(self) -> None:
        """Check the recipe (``Recipe.check_recipe``) and the copy task's own sizes.

        Raises:
            ValueError: If a field of the recipe is out of range (``Recipe.check_recipe``), or ``vocab`` and
                ``seq_len`` leave no room for random tokens next to the special ids.
        """
        for name in ("vocab", "seq_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {getattr(self, name)}")
        self.check_recipe()
        specials = 3 if self.end_symbol else 2  # PAD and BOS, and EOS
        if self.vocab <= specials:
            raise ValueError(f"vocab: expected more than the {specials} special ids, got {self.vocab}")
        if self.seq_len < specials:
            raise ValueError(f"seq_len: expected at least {specials} (room for a random token), got {self.seq_len}")

    def build_model(self) -> EncoderDecoder:
        """A fresh model for this task, initialised from ``seed``."""
        torch.manual_seed(self.seed)
        return make_model(self.vocab, self.vocab, self.N, self.d_model, self.d_ff, self.h, self.dropout)

    def batches(self, state: TrainingState, size: int, device: torch.device) -> Iterator[Batch]:
        """The rows still to train on: ``size`` random rows per step (``data_gen``), on ``device``."""
        return data_gen(
            self.vocab,
            size,
            self.steps - state.step,
            self.seq_len,
            end_symbol=EOS if self.end_symbol else None,
            generator=state.generator,
            device=device,
        )

    def training_rows(self, world_size: int = 1) -> set[tuple[int, ...]]:
        """Every row that ``train`` shows the model, over all ``world_size`` processes, as tuples of ids.

        The data stream is seeded, so it is drawn again here without any training: ``steps × batch_size`` rows.

        Args:
            world_size: Number of processes the model is trained on (each draws its own rows).

        Returns:
            The distinct rows, each a tuple of ``seq_len`` ids.
        """
        end_symbol = EOS if self.end_symbol else None
        rows: set[tuple[int, ...]] = set()
        for rank in range(world_size):
            generator = torch.Generator().manual_seed(self.seed * 1000 + rank)  # the stream ``start`` draws from
            batches = data_gen(
                self.vocab,
                self.batch_size // world_size,
                self.steps,
                self.seq_len,
                end_symbol=end_symbol,
                generator=generator,
            )
            for batch in batches:
                rows.update(map(tuple, batch.src.tolist()))
        return rows

    def held_out(self, n: int = 1000, seed: int = 12345, world_size: int = 1) -> Tensor:
        """``n`` rows drawn with ``seed`` that training never showed the model.

        Another seed does not make other rows: with ``end_symbol``, short rows are few (8 of one token with the
        default vocabulary) and the training stream holds every one of them. Rows found in ``training_rows`` are
        dropped, and more are drawn until ``n`` remain, so a score on them measures copying, not memory.

        Args:
            n: Number of rows.
            seed: Seed of the draw.
            world_size: Number of processes the model was trained on.

        Returns:
            ``(n, seq_len)`` ids on the CPU, none of them a row of the training stream.

        Raises:
            ValueError: If ``n`` is below 1, or the training stream holds every possible row.
        """
        if n < 1:
            raise ValueError(f"n: expected an integer >= 1, got {n}")
        seen = self.training_rows(world_size)
        end_symbol = EOS if self.end_symbol else None
        symbols = self.vocab - (3 if self.end_symbol else 2)  # ids left for random tokens
        lengths = range(1, self.seq_len - 1) if self.end_symbol else [self.seq_len - 1]
        possible = sum(symbols**length for length in lengths)
        if len(seen) >= possible:
            raise ValueError(
                f"vocab={self.vocab}, seq_len={self.seq_len}: training shows all {possible} possible rows, "
                "none is left to hold out"
            )
        generator = torch.Generator().manual_seed(seed)
        kept: list[Tensor] = []
        found = 0
        while found < n:
            rows = next(data_gen(self.vocab, n, 1, self.seq_len, end_symbol=end_symbol, generator=generator)).src
            unseen = rows[torch.tensor([tuple(row) not in seen for row in rows.tolist()])]
            kept.append(unseen)
            found += len(unseen)
        return torch.cat(kept)[:n]

    def exact_match(self, model: EncoderDecoder, n: int = 1000, seed: int = 12345, world_size: int = 1) -> float:
        """Fraction of ``n`` held-out rows (``held_out``: none seen in training) that greedy decoding copies exactly.

        Args:
            model: A trained model; the rows go to the device of its weights.
            n: Number of held-out rows.
            seed: Seed of the held-out rows.
            world_size: Number of processes the model was trained on.

        Returns:
            A number between 0 and 1.
        """
        end_symbol = EOS if self.end_symbol else None
        batch = Batch(self.held_out(n, seed, world_size).to(next(model.parameters()).device))
        model.eval()
        out = greedy_decode(model, batch.src, batch.src_mask, self.seq_len, BOS, end_symbol)
        out = F.pad(out, (0, self.seq_len - out.size(1)), value=PAD)  # decoding may stop early
        return round((out == batch.src).all(dim=1).float().mean().item(), 4)
