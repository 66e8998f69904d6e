"""Chapter 3's figure: an embedding table before and after a little training on a toy task.

The task: twelve words in three categories; the model sees every pair of words and must say whether the two belong
to the same category, scoring a pair by the dot product of their embeddings. With ``d_model = 2`` the table itself
can be drawn, with no projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor

from book.figures._common import new_figure
from transformer.embeddings import Embeddings

Lang = Literal["en", "zh"]

# Token id i is WORDS[lang][i]; ids 0-3, 4-7 and 8-11 form the three categories.
WORDS = {
    "en": ("cat", "dog", "horse", "fish", "red", "green", "blue", "yellow", "one", "two", "three", "four"),
    "zh": ("猫", "狗", "马", "鱼", "红", "绿", "蓝", "黄", "一", "二", "三", "四"),
}
CATEGORY_NAMES = {"en": ("animals", "colours", "numbers"), "zh": ("动物", "颜色", "数字")}
CATEGORY_COLOURS = ("#b45f06", "#0b5394", "#38761d")

LABELS = {
    "en": {
        "before": "before training",
        "after": "after {steps} steps",
        "dim": "component {i} of the embedding",
        "list": ", ",
    },
    "zh": {
        "before": "训练前",
        "after": "训练 {steps} 步之后",
        "dim": "词嵌入的分量 {i}",
        "list": "、",
    },
}


@dataclass(frozen=True)
class ToyRun:
    """The embedding table of the toy task before and after training.

    Attributes:
        before: The table before training, shape ``(vocab, d_model)``.
        after: The table after training, shape ``(vocab, d_model)``.
        categories: The category of each token id, shape ``(vocab,)``.
        losses: The loss at every step, before that step's update.
    """

    before: Tensor
    after: Tensor
    categories: Tensor
    losses: list[float]


def train_toy_embeddings(steps: int = 100, lr: float = 0.05, seed: int = 0) -> ToyRun:
    """Train a 2-D ``Embeddings`` of 12 words to tell whether two words share a category.

    Every step scores all 144 ordered pairs ``(a, b)`` by the dot product of their embeddings and lowers the
    binary cross-entropy against "same category". Nothing but the table is learned.

    Args:
        steps: Optimizer steps (Adam).
        lr: Learning rate.
        seed: Seed of the initial table.

    Returns:
        The table before and after, the categories and the losses.
    """
    vocab, per_category = 12, 4
    categories = torch.arange(vocab) // per_category  # (vocab,)
    torch.manual_seed(seed)
    emb = Embeddings(d_model=2, vocab=vocab)
    before = emb.lut.weight.detach().clone()
    a, b = torch.cartesian_prod(torch.arange(vocab), torch.arange(vocab)).T  # (144,) each
    a, b = a.unsqueeze(0), b.unsqueeze(0)  # a batch of one "sentence" of 144 ids: (1, 144)
    same = (categories[a] == categories[b]).float()  # (1, 144)
    optimizer = torch.optim.Adam(emb.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        score = (emb(a) * emb(b)).sum(dim=-1)  # dot products, (1, 144)
        loss = F.binary_cross_entropy_with_logits(score, same)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return ToyRun(before, emb.lut.weight.detach().clone(), categories, losses)


def category_cosines(table: Tensor, categories: Tensor) -> tuple[float, float]:
    """Mean cosine similarity between the rows of ``table`` of the same category, and of different categories.

    Args:
        table: Embedding table, shape ``(vocab, d_model)``.
        categories: Category of each row, shape ``(vocab,)``.

    Returns:
        ``(within, across)``; a row is not compared with itself.
    """
    cos = F.cosine_similarity(table.unsqueeze(1), table.unsqueeze(0), dim=-1)  # (vocab, vocab)
    same = categories.unsqueeze(1) == categories.unsqueeze(0)
    itself = torch.eye(len(table), dtype=torch.bool)
    return cos[same & ~itself].mean().item(), cos[~same].mean().item()


def _word_list(words: list[str], separator: str, per_line: int) -> str:
    lines = [words[i : i + per_line] for i in range(0, len(words), per_line)]
    return (separator.rstrip() + "\n").join(separator.join(line) for line in lines)


def embedding_training(steps: int = 100, lang: Lang = "en") -> Figure:
    """The toy task's table before and after ``steps`` steps, each row drawn as a labelled point.

    Args:
        steps: Training steps.
        lang: Language of the labels and the words, ``"en"`` or ``"zh"``.

    Returns:
        The figure: two panels with the same axes, one point per word, coloured by category.
    """
    labels = LABELS[lang]
    run = train_toy_embeddings(steps)
    limit = 1.5 * max(run.before.abs().max().item(), run.after.abs().max().item())
    fig = new_figure(8.4, 4.7)
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    titles = (labels["before"], labels["after"].format(steps=steps))
    for ax, table, title in zip(axes, (run.before, run.after), titles, strict=True):
        for c, (name, colour) in enumerate(zip(CATEGORY_NAMES[lang], CATEGORY_COLOURS, strict=True)):
            rows = table[run.categories == c]
            ax.scatter(rows[:, 0], rows[:, 1], color=colour, s=30, label=name, zorder=3)
        if table is run.before:
            for token_id, (x, y) in enumerate(table.tolist()):
                colour = CATEGORY_COLOURS[run.categories[token_id].item()]
                ax.annotate(WORDS[lang][token_id], (x, y), xytext=(4, 3), textcoords="offset points", color=colour)
        else:
            # trained words of a category sit almost on top of each other: one label per category, outside it
            for c, colour in enumerate(CATEGORY_COLOURS):
                rows = table[run.categories == c]
                direction = rows.mean(dim=0) / rows.mean(dim=0).norm()
                outermost = rows[(rows @ direction).argmax()]
                words = [w for w, k in zip(WORDS[lang], run.categories.tolist(), strict=True) if k == c]
                sideways = direction[0].abs() > direction[1].abs()
                ax.annotate(
                    _word_list(words, labels["list"], per_line=2 if sideways else len(words)),
                    outermost.tolist(),
                    xytext=(8 * direction).tolist(),
                    textcoords="offset points",
                    ha=("left" if direction[0] > 0 else "right") if sideways else "center",
                    va="center" if sideways else ("bottom" if direction[1] > 0 else "top"),
                    color=colour,
                )
        ax.axhline(0, color="#cccccc", linewidth=0.8, zorder=1)
        ax.axvline(0, color="#cccccc", linewidth=0.8, zorder=1)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(labels["dim"].format(i=0))
    axes[0].set_ylabel(labels["dim"].format(i=1))
    axes[1].legend(loc="lower left", fontsize=9)
    return fig
