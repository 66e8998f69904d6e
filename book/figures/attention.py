"""Figures of chapter 5: masks, the sqrt(d_k) scale, self-attention vs an RNN, and the heads of a trained model."""

from __future__ import annotations

import math

import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import Tensor, nn

from book.figures._common import cached_copy_model, localized, new_figure
from transformer.attention import MultiHeadedAttention
from transformer.masks import padding_mask, subsequent_mask, target_mask
from transformer.model import EncoderDecoder

MASK_COLORS = ListedColormap(["#d9d9d9", "#3b75af"])  # False (hidden), True (may attend)


def mask_heatmaps(lang: str = "en") -> Figure:
    """The padding mask, the causal mask and their combination for one row ``[1, 5, 7, 3, 0, 0]`` (pad = 0).

    Each panel is the mask broadcast to ``(q_len, k_len)``: row = query position, column = key position.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure, three panels side by side.
    """
    seq = torch.tensor([[1, 5, 7, 3, 0, 0]])
    size = seq.size(1)
    panels = [
        (padding_mask(seq, pad=0).expand(1, size, size), localized(lang, "padding_mask", "填充掩码 padding_mask")),
        (subsequent_mask(size), localized(lang, "subsequent_mask (causal)", "因果掩码 subsequent_mask")),
        (target_mask(seq, pad=0), localized(lang, "target_mask = both", "target_mask：两者取“与”")),
    ]
    fig = new_figure(9.0, 3.6)
    axes = fig.subplots(1, 3)
    tokens = ["pad" if t == 0 else str(t) for t in seq[0].tolist()]
    for ax, (mask, title) in zip(axes, panels, strict=True):
        ax.imshow(mask[0].int().numpy(), cmap=MASK_COLORS, vmin=0, vmax=1)
        ax.set_title(title, fontsize="medium")
        ax.set_xticks(range(size), tokens)
        ax.set_yticks(range(size), tokens)
        ax.set_xlabel(localized(lang, "key (token id)", "键（词元 id）"))
        ax.set_ylabel(localized(lang, "query (token id)", "查询（词元 id）"))
    fig.legend(
        handles=[
            Patch(color=MASK_COLORS(1), label=localized(lang, "True: may attend", "True：可以关注")),
            Patch(
                color=MASK_COLORS(0),
                label=localized(lang, "False: hidden (score set to -inf)", "False：屏蔽（分数置为 -inf）"),
            ),
        ],
        loc="outside lower center",
        ncols=2,
    )
    return fig


def scaling_saturation(lang: str = "en", n_keys: int = 16, samples: int = 2000, seed: int = 0) -> Figure:
    """Why attention divides by ``sqrt(d_k)``: dot products of random vectors, and the softmax they feed.

    Queries and keys have independent standard-normal entries. Left: the standard deviation of ``q · k`` grows
    as ``sqrt(d_k)``; divided by ``sqrt(d_k)`` it stays near 1. Right: the largest softmax weight over
    ``n_keys`` keys, averaged over ``samples`` queries: without the scale it approaches 1 (one key takes all,
    the softmax saturates).

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        n_keys: Keys per query.
        samples: Queries per ``d_k``.
        seed: Seed of the random vectors.

    Returns:
        The figure, two panels.
    """
    generator = torch.Generator().manual_seed(seed)
    d_ks = [2**i for i in range(0, 11)]
    std_raw, std_scaled, top_raw, top_scaled = [], [], [], []
    for d_k in d_ks:
        q = torch.randn(samples, 1, d_k, generator=generator)
        k = torch.randn(samples, n_keys, d_k, generator=generator)
        scores = (q @ k.transpose(-2, -1)).squeeze(1)  # (samples, n_keys)
        scaled = scores / math.sqrt(d_k)
        std_raw.append(scores.std().item())
        std_scaled.append(scaled.std().item())
        top_raw.append(scores.softmax(-1).max(-1).values.mean().item())
        top_scaled.append(scaled.softmax(-1).max(-1).values.mean().item())
    raw = localized(lang, "q · k", "q · k（不缩放）")
    scaled_label = localized(lang, "q · k / sqrt(d_k)", "q · k / sqrt(d_k)（缩放）")
    fig = new_figure(9.0, 3.6)
    left, right = fig.subplots(1, 2)
    left.plot(d_ks, std_raw, marker="o", label=raw)
    left.plot(d_ks, std_scaled, marker="o", label=scaled_label)
    left.set_xscale("log", base=2)
    left.set_xlabel("d_k")
    left.set_ylabel(localized(lang, "standard deviation of the scores", "分数的标准差"))
    left.set_title(localized(lang, "Spread of the scores", "分数的离散程度"))
    left.legend()
    right.plot(d_ks, top_raw, marker="o", label=raw)
    right.plot(d_ks, top_scaled, marker="o", label=scaled_label)
    right.axhline(1 / n_keys, color="grey", linestyle=":", label=localized(lang, "uniform 1/16", "均匀分布 1/16"))
    right.set_xscale("log", base=2)
    right.set_ylim(0, 1.05)
    right.set_xlabel("d_k")
    right.set_ylabel(localized(lang, "largest softmax weight (mean)", "softmax 最大权重（均值）"))
    right.set_title(localized(lang, f"Softmax over {n_keys} keys", f"{n_keys} 个键上的 softmax"))
    right.legend()
    return fig


def gradient_paths(lang: str = "en", seq_len: int = 32, d_model: int = 16, seed: int = 0) -> Figure:
    """How strongly the last output depends on each input position: an RNN against one self-attention layer.

    Both are freshly initialised (seeded). The curve is the norm of the gradient of the sum of the last
    position's output with respect to each input position, on a logarithmic scale.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        seq_len: Length of the input.
        d_model: Size of the input vectors.
        seed: Seed of the weights and the input.

    Returns:
        The figure.
    """
    rnn_grad, attn_grad = input_gradients(seq_len, d_model, seed)
    fig = new_figure(7.0, 3.6)
    ax = fig.add_subplot()
    ax.semilogy(rnn_grad.numpy(), marker=".", label=localized(lang, "RNN (nn.RNN)", "RNN（nn.RNN）"))
    ax.semilogy(
        attn_grad.numpy(),
        marker=".",
        label=localized(lang, "self-attention (MultiHeadedAttention)", "自注意力（MultiHeadedAttention）"),
    )
    ax.set_xlabel(localized(lang, "input position j", "输入位置 j"))
    ax.set_ylabel(
        localized(
            lang, f"gradient norm of output {seq_len - 1} w.r.t. input j", f"输出 {seq_len - 1} 对输入 j 的梯度范数"
        )
    )
    ax.set_title(localized(lang, "How far a signal travels", "信号能传多远"))
    ax.legend()
    return fig


def input_gradients(seq_len: int = 32, d_model: int = 16, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Gradient norms of the last output position with respect to every input position, RNN vs self-attention.

    Args:
        seq_len: Length of the input.
        d_model: Size of the input vectors.
        seed: Seed of the weights and the input.

    Returns:
        ``(rnn, attention)``, each of shape ``(seq_len,)``.
    """
    torch.manual_seed(seed)
    x = torch.randn(1, seq_len, d_model)
    rnn = nn.RNN(d_model, d_model, batch_first=True)
    mha = MultiHeadedAttention(h=2, d_model=d_model, dropout=0.0)
    norms = []
    for layer in (lambda x: rnn(x)[0], lambda x: mha(x, x, x)):
        x_ = x.clone().requires_grad_()
        layer(x_)[0, -1].sum().backward()
        norms.append(x_.grad[0].norm(dim=-1))  # (seq_len,)
    return norms[0], norms[1]


def trained_attention_heads(
    lang: str = "en",
    model: EncoderDecoder | None = None,
    src: Tensor | None = None,
    layer: int = 0,
) -> Figure:
    """Attention weights of every head of a model trained on the copy task, one panel per head.

    Rows: the encoder's self-attention, the decoder's masked self-attention and the decoder's cross-attention
    (``src_attn``), all in layer ``layer``, for one source sentence decoded with teacher forcing (the decoder reads
    the source shifted right, as in training).

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        model: The model; by default ``cached_copy_model()``.
        src: Source ids, shape ``(1, src_len)``, starting with the start symbol; by default a fixed row.
        layer: Which layer to show.

    Returns:
        The figure, three rows of ``h`` panels.
    """
    model = cached_copy_model() if model is None else model
    src = torch.tensor([[1, 7, 3, 9, 4, 10, 2, 6, 5, 8]]) if src is None else src
    tgt = src[:, :-1]
    modules = [m for m in model.modules() if isinstance(m, MultiHeadedAttention)]
    kept = [m.keep_attn for m in modules]
    for m in modules:
        m.keep_attn = True
    try:
        with torch.no_grad():
            model(src, tgt, padding_mask(src, pad=0), subsequent_mask(tgt.size(1)))
        enc, dec = model.encoder.layers[layer], model.decoder.layers[layer]
        rows = [
            (enc.self_attn.attn, src, src, localized(lang, "encoder self-attention", "编码器自注意力")),
            (dec.self_attn.attn, tgt, tgt, localized(lang, "decoder masked self-attention", "解码器带掩码的自注意力")),
            (dec.src_attn.attn, tgt, src, localized(lang, "decoder cross-attention", "解码器交叉注意力")),
        ]
    finally:
        for m, keep in zip(modules, kept, strict=True):
            m.keep_attn = keep
            m.attn = None
    h = rows[0][0].size(1)
    fig = new_figure(2.3 * h, 2.3 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), h, squeeze=False)
    for r, (weights, queries, keys, name) in enumerate(rows):
        for head in range(h):
            ax = axes[r][head]
            ax.imshow(weights[0, head].numpy(), cmap="Blues", vmin=0, vmax=1)
            ax.set_title(localized(lang, f"{name}\nhead {head}", f"{name}\n头 {head}"), fontsize="small")
            ax.set_xticks(range(keys.size(1)), [str(t) for t in keys[0].tolist()], fontsize="x-small")
            ax.set_yticks(range(queries.size(1)), [str(t) for t in queries[0].tolist()], fontsize="x-small")
            if head == 0:
                ax.set_ylabel(localized(lang, "query", "查询"), fontsize="small")
            if r == len(rows) - 1:
                ax.set_xlabel(localized(lang, "key", "键"), fontsize="small")
    fig.suptitle(
        localized(
            lang,
            f"Attention weights of a model trained on the copy task (layer {layer}, {h} heads)",
            f"复制任务上训练好的模型的注意力权重（第 {layer} 层，从 0 数起；{h} 个头）",
        )
    )
    return fig
