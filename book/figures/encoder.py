"""Figures of chapter 6: the encoder's data flow, pre-LN against post-LN, and the memory of a trained model."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from torch import Tensor, nn

from book.figures._common import (
    cache_dir,
    cached_copy_model,
    layer_frame,
    localized,
    new_figure,
    training_code_digest,
)
from book.numerics import arithmetic
from transformer.data import PAD, data_gen
from transformer.masks import padding_mask, subsequent_mask
from transformer.model import EncoderDecoder, make_model
from transformer.training import train_steps

# The colours of the home page's architecture figure, so the same sub-layer looks the same everywhere.
ATTENTION, NORM, FFN, EMBEDDING, POSITION = "#ffe0b2", "#fff9c4", "#c8e6c9", "#e1bee7", "#bbdefb"
INK = "#37474f"
# The sentence chapters 5 and 6 look at: the start symbol, then nine tokens to copy.
SENTENCE = (1, 7, 3, 9, 4, 10, 2, 6, 5, 8)


def encoder_data_flow(lang: str = "en") -> Figure:
    """The encoder as a data-flow diagram, with the shape of the tensor on every arrow (pre-LN, as ``make_model``).

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure.
    """
    fig = new_figure(7.6, 8.4)
    fig.set_layout_engine("none")  # one axes filling the figure
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 13.4)
    ax.set_axis_off()
    x, width, height = 3.6, 4.4, 0.62

    def box(y: float, label: str, color: str) -> None:
        ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - height / 2),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.15",
                facecolor=color,
                edgecolor=INK,
                linewidth=1.2,
                zorder=2,
            )
        )
        ax.text(x, y, label, ha="center", va="center", fontsize=9, zorder=3)

    def arrow(start: tuple[float, float], end: tuple[float, float]) -> None:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=INK, zorder=1))

    def shape(y: float, label: str) -> None:
        ax.text(x + 0.2, y, label, ha="left", va="center", fontsize=8, family="monospace", color="#1565c0")

    def add(y: float) -> None:
        ax.add_patch(Circle((x, y), 0.2, facecolor="white", edgecolor=INK, linewidth=1.2, zorder=2))
        ax.text(x, y - 0.01, "+", ha="center", va="center", fontsize=11, zorder=3)

    def residual(y0: float, y1: float) -> None:
        """The skip path: from the stream below the sub-layer, around it on the left, into the sum."""
        left = x - width / 2 - 0.45
        ax.plot([x, left, left], [y0, y0, y1], color=INK, linewidth=1.1, zorder=1)
        arrow((left, y1), (x - 0.2, y1))

    ax.text(
        x,
        0.35,
        localized(lang, "source token ids  src", "源序列词元编号  src"),
        ha="center",
        style="italic",
        fontsize=9,
    )
    arrow((x, 0.55), (x, 0.95))
    shape(0.75, "(batch, src_len)")
    box(1.25, localized(lang, "Embeddings (× √d_model)", "词嵌入（× √d_model）"), EMBEDDING)
    arrow((x, 1.56), (x, 1.94))
    shape(1.75, "(batch, src_len, d_model)")
    box(2.25, localized(lang, "+ positional encoding", "+ 位置编码"), POSITION)
    arrow((x, 2.56), (x, 3.2))
    shape(2.88, "(batch, src_len, d_model)")

    # One encoder layer, drawn once and repeated N times.
    ax.add_patch(layer_frame(x - width / 2 - 0.85, 3.3, width + 1.5, 6.1))
    ax.text(
        x + width / 2 + 0.75,
        6.35,
        localized(lang, "EncoderLayer\n× N", "编码器层\nEncoderLayer\n× N"),
        ha="left",
        va="center",
        fontsize=9,
    )
    residual(3.45, 5.55)
    arrow((x, 3.45), (x, 3.72))
    box(4.0, "LayerNorm", NORM)
    arrow((x, 4.31), (x, 4.62))
    # One input, three roles: the projections inside make queries, keys and values that differ (Q ≠ K ≠ V).
    box(
        4.9,
        localized(
            lang,
            "multi-head self-attention\nqueries, keys, values from the same x",
            "多头自注意力\n查询、键、值都由同一个 x 算出",
        ),
        ATTENTION,
    )
    ax.text(x + width / 2 + 0.1, 4.9, "src_mask\n(batch, 1, src_len)", fontsize=7, va="center", family="monospace")
    arrow((x, 5.21), (x, 5.35))
    add(5.55)
    arrow((x, 5.75), (x, 6.25))
    shape(6.0, "(batch, src_len, d_model)")
    residual(6.35, 8.75)
    arrow((x, 6.35), (x, 6.62))
    box(6.9, "LayerNorm", NORM)
    arrow((x, 7.21), (x, 7.52))
    box(7.8, localized(lang, "feed-forward network", "前馈网络"), FFN)
    ax.text(
        x + width / 2 + 0.1,
        7.8,
        localized(lang, "inside: (batch, src_len, d_ff)", "中间：(batch, src_len, d_ff)"),
        fontsize=7,
        va="center",
    )
    arrow((x, 8.11), (x, 8.55))
    add(8.75)
    arrow((x, 8.95), (x, 9.9))
    shape(9.65, "(batch, src_len, d_model)")
    box(10.2, localized(lang, "final LayerNorm", "最后的 LayerNorm"), NORM)
    arrow((x, 10.51), (x, 11.2))
    shape(10.85, "(batch, src_len, d_model)")
    ax.text(x, 11.45, localized(lang, "memory", "记忆 memory"), ha="center", va="center", fontsize=11)

    # The memory goes, unchanged, to the cross-attention of every decoder layer.
    target_x = 9.6
    for k, y in enumerate((12.6, 11.45, 10.3)):
        ax.add_patch(
            FancyBboxPatch(
                (target_x - 1.5, y - 0.3),
                3.0,
                0.6,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor=ATTENTION,
                edgecolor=INK,
                linewidth=1.0,
                zorder=2,
            )
        )
        # Layers are counted from 0, as in ``model.decoder.layers[k]`` and the chapter's other figures.
        label = localized(lang, f"decoder layer {k}: cross-attention", f"解码器第 {k} 层的交叉注意力")
        if k == 2:
            label = localized(lang, "… decoder layer N − 1", "…… 解码器第 N − 1 层")
        ax.text(target_x, y, label, ha="center", va="center", fontsize=7.5, zorder=3)
        arrow((x + 0.8, 11.45), (target_x - 1.55, y))
    ax.text(
        target_x,
        13.15,
        localized(lang, "keys and values come from the memory", "键和值都由记忆算出"),
        ha="center",
        va="center",
        fontsize=8,
        style="italic",
    )
    return fig


@dataclasses.dataclass(frozen=True)
class NormPlacementRecipe:
    """The run that compares pre-LN and post-LN: the same model, data and constant learning rate, no warm-up.

    Attributes:
        N: Layers in the encoder and in the decoder (deep enough for the placement to matter).
        d_model: Size of the model's vectors.
        steps: Optimizer steps.
        batch_size: Rows per step.
        lr: Adam's learning rate, constant from the first step.
        seed: Seed of the weights and the data.
    """

    N: int = 4
    d_model: int = 64
    steps: int = 200
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0


def norm_placement_losses(recipe: NormPlacementRecipe | None = None) -> dict[str, list[float]]:
    """Training losses of a pre-LN and a post-LN model on the copy task, computed once and cached.

    Both models start from the same seed and see the same batches; only ``norm_first`` differs.

    Args:
        recipe: The run; by default ``NormPlacementRecipe()``.

    Returns:
        ``{"pre-LN": losses, "post-LN": losses}``, one loss per step.
    """
    recipe = NormPlacementRecipe() if recipe is None else recipe
    # The arithmetic (threads, kernels, the CPU's maker: book.numerics) changes float sums, hence the run: it is part
    # of the key, with the training code (as in cached_copy_model).
    key = json.dumps(
        {**dataclasses.asdict(recipe), "arithmetic": arithmetic(), "code": training_code_digest()},
        sort_keys=True,
    )
    path = cache_dir() / f"norm-placement-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    losses = {}
    for name, norm_first in (("pre-LN", True), ("post-LN", False)):
        torch.manual_seed(recipe.seed)
        model = make_model(
            11, 11, N=recipe.N, d_model=recipe.d_model, d_ff=2 * recipe.d_model, h=4, dropout=0.0, norm_first=norm_first
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, betas=(0.9, 0.98), eps=1e-9)
        criterion = nn.NLLLoss(reduction="sum", ignore_index=PAD)  # the generator returns log-probabilities
        batches = data_gen(11, recipe.batch_size, recipe.steps, generator=torch.Generator().manual_seed(recipe.seed))
        losses[name] = [stats.loss for stats in train_steps(model, batches, criterion, optimizer)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(losses))
    return losses


def norm_placement_curves(lang: str = "en", recipe: NormPlacementRecipe | None = None) -> Figure:
    """The training losses of ``norm_placement_losses``: pre-LN against post-LN, the same in every other respect.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        recipe: The run; by default ``NormPlacementRecipe()``.

    Returns:
        The figure.
    """
    recipe = NormPlacementRecipe() if recipe is None else recipe
    losses = norm_placement_losses(recipe)
    fig = new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    for name, color in (("pre-LN", "#1565c0"), ("post-LN", "#c62828")):
        label = localized(lang, f"{name} (norm_first={name == 'pre-LN'})", f"{name}（norm_first={name == 'pre-LN'}）")
        ax.plot(range(1, len(losses[name]) + 1), losses[name], color=color, label=label, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel(localized(lang, "training step", "训练步数"))
    ax.set_ylabel(localized(lang, "loss per token", "每个词元的损失"))
    ax.set_title(
        localized(
            lang,
            f"Copy task, N={recipe.N}, d_model={recipe.d_model}, Adam lr={recipe.lr:g} from step 1 (no warm-up)",
            f"复制任务，N={recipe.N}，d_model={recipe.d_model}，Adam 学习率从第 1 步起就是 {recipe.lr:g}（不预热）",
        ),
        fontsize=9,
    )
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def source_attention(model: EncoderDecoder, src: Tensor) -> Tensor:
    """The decoder's cross-attention weights over the memory, averaged over the heads, for teacher forcing.

    The decoder reads ``src[:, :-1]`` (the copy task's target, shifted right), as in training.

    Args:
        model: A model trained on the copy task.
        src: Source ids, shape ``(1, src_len)``.

    Returns:
        Shape ``(N, tgt_len, src_len)``: per decoder layer, one row per decoder position, summing to 1.
    """
    tgt = src[:, :-1]
    modules = [layer.src_attn for layer in model.decoder.layers]
    try:
        for module in modules:
            module.keep_attn = True
        with torch.no_grad():
            model(src, tgt, padding_mask(src, PAD), subsequent_mask(tgt.size(1)))
        return torch.stack([module.attn[0].mean(dim=0) for module in modules])  # (N, tgt_len, src_len)
    finally:
        for module in modules:
            module.keep_attn = False
            module.attn = None


def source_attention_heatmap(
    lang: str = "en", model: EncoderDecoder | None = None, src: Tensor | None = None
) -> Figure:
    """Where each decoder position looks in the memory: one heat map per decoder layer, heads averaged.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        model: The model; by default ``cached_copy_model()``.
        src: Source ids, shape ``(1, src_len)``; by default the sentence of chapters 5 and 6.

    Returns:
        The figure, one panel per decoder layer.
    """
    model = cached_copy_model() if model is None else model
    src = torch.tensor([SENTENCE]) if src is None else src
    weights = source_attention(model, src)
    tgt = src[0, :-1].tolist()
    fig = new_figure(3.6 * weights.size(0) + 0.8, 4.0)
    axes = fig.subplots(1, weights.size(0), squeeze=False)[0]
    for layer, ax in enumerate(axes):
        image = ax.imshow(weights[layer].numpy(), cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(src.size(1)), [f"{j}\n{t}" for j, t in enumerate(src[0].tolist())], fontsize=7)
        ax.set_yticks(range(len(tgt)), [f"{i}: {t}" for i, t in enumerate(tgt)], fontsize=7)
        ax.set_xlabel(localized(lang, "memory position (and its source token)", "记忆的位置（及其源词元）"), fontsize=8)
        if layer == 0:
            ax.set_ylabel(localized(lang, "decoder position: token it reads", "解码器位置：读入的词元"), fontsize=8)
        ax.set_title(
            localized(lang, f"decoder layer {layer}, mean of the heads", f"解码器第 {layer} 层，各头平均"), fontsize=9
        )
    fig.colorbar(image, ax=list(axes), shrink=0.8, label=localized(lang, "attention weight", "注意力权重"))
    return fig


def corrupted_memory_predictions(model: EncoderDecoder, src: Tensor) -> Tensor:
    """With teacher forcing, the probability of the right next token when one memory position is zeroed.

    Args:
        model: A model trained on the copy task.
        src: Source ids, shape ``(1, src_len)``.

    Returns:
        Shape ``(src_len, tgt_len)``: row ``j`` has memory position ``j`` set to zero; column ``i`` is the
        probability the model gives to the correct token ``src[0, i + 1]`` at decoder position ``i``.
    """
    src_mask = padding_mask(src, PAD)
    tgt = src[:, :-1]
    tgt_mask = subsequent_mask(tgt.size(1))
    with torch.no_grad():
        memory = model.encode(src, src_mask)  # (1, src_len, d_model)
        rows = []
        for j in range(src.size(1)):
            corrupted = memory.clone()
            corrupted[:, j] = 0.0
            log_probs = model.generator(model.decode(corrupted, src_mask, tgt, tgt_mask))  # (1, tgt_len, vocab)
            rows.append(log_probs[0].gather(-1, src[0, 1:].unsqueeze(-1)).squeeze(-1).exp())
    return torch.stack(rows)


def memory_corruption(lang: str = "en", model: EncoderDecoder | None = None, src: Tensor | None = None) -> Figure:
    """Zero one memory position at a time: which outputs still get the right token?

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        model: The model; by default ``cached_copy_model()``.
        src: Source ids, shape ``(1, src_len)``; by default the sentence of chapters 5 and 6.

    Returns:
        The figure.
    """
    model = cached_copy_model() if model is None else model
    src = torch.tensor([SENTENCE]) if src is None else src
    probs = corrupted_memory_predictions(model, src)  # (src_len, tgt_len)
    tokens = src[0].tolist()
    fig = new_figure(5.6, 4.6)
    ax = fig.add_subplot()
    image = ax.imshow(probs.numpy(), cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(len(tokens)), [f"{j} ({t})" for j, t in enumerate(tokens)], fontsize=7)
    ax.set_xticks(range(len(tokens) - 1), [f"{i}\n→{t}" for i, t in enumerate(tokens[1:])], fontsize=7)
    ax.set_ylabel(localized(lang, "zeroed memory position (its token)", "被清零的记忆位置（其词元）"), fontsize=8)
    ax.set_xlabel(
        localized(lang, "decoder position → the token it must output", "解码器位置 → 应输出的词元"), fontsize=8
    )
    ax.set_title(
        localized(lang, "Probability of the correct token after the damage", "损坏记忆后，正确词元得到的概率"),
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, shrink=0.85)
    return fig
