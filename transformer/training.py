"""Training: the label-smoothed loss, the learning-rate schedule of the paper, and the training loop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from transformer._checks import check_same_size, check_shape
from transformer.data import Batch


class LabelSmoothing(nn.Module):
    r"""KL divergence to a smoothed target distribution (section 5.4 of the paper).

    The target puts $1 - \epsilon$ on the correct token and spreads $\epsilon$ evenly over all
    ``size`` tokens, the same distribution as ``nn.CrossEntropyLoss(label_smoothing=ε)``. Their losses differ by
    a constant, the entropy of that distribution, so the gradients are the same. (The Annotated Transformer
    spreads $\epsilon$ over ``size - 2`` tokens, excluding the correct one and padding; that loss has no
    built-in twin.) Rows whose target is ``padding_idx`` contribute nothing.

    Args:
        size: Vocabulary size.
        padding_idx: Target id whose rows are ignored.
        smoothing: $\epsilon$, between 0 and 1.

    Attributes:
        true_dist: The last target distribution, shape ``(n, size)``, kept for plotting.

    Shape:
        - ``x``: ``(n, size)`` log-probabilities.
        - ``target``: ``(n,)`` ids.
        - Output: scalar, summed over the rows.

    Examples:
        >>> crit = LabelSmoothing(size=5, padding_idx=0, smoothing=0.5)
        >>> _ = crit(torch.full((1, 5), 0.2).log(), torch.tensor([2]))
        >>> crit.true_dist
        tensor([[0.1000, 0.1000, 0.6000, 0.1000, 0.1000]])
    """

    def __init__(self, size: int, padding_idx: int, smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"smoothing must lie in [0, 1], got {smoothing}")
        self.size = size
        self.padding_idx = padding_idx
        self.smoothing = smoothing
        self.confidence = 1.0 - smoothing
        self.true_dist: Tensor | None = None

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        """The summed KL divergence between the smoothed target and ``exp(x)``.

        Raises:
            ValueError: If ``x`` is not ``(n, size)`` or ``target`` is not ``(n,)``.
        """
        check_shape("x", x, ("n", ("size", self.size)))
        check_shape("target", target, ("n",))
        check_same_size("x", x.size(0), "target", target.size(0), "number of rows n")
        true_dist = torch.full_like(x, self.smoothing / self.size)
        true_dist.scatter_(1, target.unsqueeze(1), self.confidence + self.smoothing / self.size)
        true_dist[target == self.padding_idx] = 0.0
        self.true_dist = true_dist.detach()
        # q * (log q - x), with 0 wherever q is 0: x may be -inf there and 0 * -inf would be nan.
        kl = torch.where(true_dist > 0, true_dist * (true_dist.log() - x), 0.0)
        return kl.sum()


def rate(step: int, model_size: int, factor: float, warmup: int) -> float:
    r"""The learning rate of the paper (equation 3): linear warm-up, then decay as $1/\sqrt{step}$.

    $$
    lrate = factor \cdot d_{model}^{-0.5} \cdot \min(step^{-0.5},\ step \cdot warmup^{-1.5})
    $$

    Use it as ``LambdaLR(optimizer, lambda step: rate(step, d_model, factor, warmup))`` on an optimizer whose
    base learning rate is 1. Step 0 counts as step 1, to avoid dividing by zero.

    Args:
        step: Number of optimizer steps taken so far.
        model_size: ``d_model``.
        factor: Overall scale.
        warmup: Steps of linear warm-up; the rate peaks at ``step == warmup``.

    Returns:
        The learning rate at ``step``.

    Examples:
        >>> round(rate(4000, model_size=512, factor=1.0, warmup=4000), 6)
        0.000699
    """
    step = max(step, 1)
    return factor * model_size**-0.5 * min(step**-0.5, step * warmup**-1.5)


def compute_loss(model: nn.Module, batch: Batch, criterion: nn.Module) -> Tensor:
    """The loss per target token of ``model`` on ``batch``.

    Args:
        model: The model, possibly wrapped in ``DistributedDataParallel`` (its ``generator`` is then found on
            ``model.module``).
        batch: A ``Batch`` with targets.
        criterion: Summed loss on ``(n, vocab)`` log-probabilities (what the generator returns) and ``(n,)``
            targets: ``LabelSmoothing`` or ``nn.NLLLoss(reduction="sum", ignore_index=pad)``. Not
            ``nn.CrossEntropyLoss``: it expects logits and would apply ``log_softmax`` a second time (harmless
            only because ``log_softmax`` of log-probabilities changes nothing).

    Returns:
        Scalar: the summed loss divided by ``batch.ntokens``.
    """
    out = model(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)  # (batch, tgt_len, d_model)
    generator = getattr(model, "module", model).generator
    log_probs = generator(out)  # (batch, tgt_len, tgt_vocab)
    loss = criterion(log_probs.reshape(-1, log_probs.size(-1)), batch.tgt_y.reshape(-1))
    return loss / batch.ntokens


@dataclass(frozen=True)
class StepStats:
    """What one training step reports.

    Attributes:
        step: Number of optimizer steps taken, this one included.
        loss: Loss per target token of this step's batch.
        ntokens: Target tokens in the batch.
        lr: Learning rate used by this step.
    """

    step: int
    loss: float
    ntokens: int
    lr: float


def train_steps(
    model: nn.Module,
    batches: Iterable[Batch],
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    *,
    start: int = 0,
    autocast: torch.dtype | None = None,
) -> Iterator[StepStats]:
    """Train on each batch in turn, yielding after every step (the caller logs, plots or stops).

    Args:
        model: The model (or its ``DistributedDataParallel`` wrapper); put in training mode.
        batches: Batches with targets, on the model's device.
        criterion: Summed loss, as for ``compute_loss``.
        optimizer: The optimizer.
        scheduler: Stepped after every optimizer step, e.g. ``LambdaLR`` with ``rate``.
        start: Steps already taken, when a run is resumed: the first step reported is ``start + 1``.
        autocast: Compute the forward pass and the loss under ``torch.autocast`` with this dtype (e.g.
            ``torch.bfloat16``); the weights, their gradients and the optimizer stay in float32. ``None``:
            everything in the weights' dtype.

    Yields:
        A ``StepStats`` per batch.
    """
    model.train()
    for step, batch in enumerate(batches, start=start + 1):
        lr = optimizer.param_groups[0]["lr"]
        # Only the forward pass runs under autocast; the backward pass follows the dtypes it recorded.
        with torch.autocast(batch.src.device.type, dtype=autocast, enabled=autocast is not None):
            loss = compute_loss(model, batch, criterion)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        yield StepStats(step, loss.item(), batch.ntokens, lr)
