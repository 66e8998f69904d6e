"""Figures of chapter 10: the masks of the three families of Transformers."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from book.figures._common import localized, new_figure


def family_masks(lang: str = "en") -> Figure:
    """Which position may look at which, in the three families, for the sentence ``five = 五``.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure: the encoder-decoder's three masks (encoder, decoder, cross), the decoder-only model's causal
        mask over the whole sentence, the encoder-only model's full mask.
    """
    source, target, sentence = ["<s>", "five", "</s>"], ["<s>", "五"], ["<s>", "five", "=", "五"]
    n, m, k = len(source), len(target), len(sentence)
    panels = [
        (localized(lang, "encoder-decoder:\nencoder", "编码器-解码器：\n编码器"), torch.ones(n, n), source, source),
        (
            localized(lang, "encoder-decoder:\ndecoder", "编码器-解码器：\n解码器"),
            torch.ones(m, m).tril(),
            target,
            target,
        ),
        (
            localized(lang, "encoder-decoder:\ncross-attention", "编码器-解码器：\n交叉注意力"),
            torch.ones(m, n),
            target,
            source,
        ),
        (localized(lang, "decoder-only (GPT)", "仅解码器（GPT）"), torch.ones(k, k).tril(), sentence, sentence),
        (localized(lang, "encoder-only (BERT)", "仅编码器（BERT）"), torch.ones(k, k), sentence, sentence),
    ]
    fig = new_figure(11.0, 3.0)
    axes = fig.subplots(1, len(panels), gridspec_kw={"width_ratios": [len(keys) for _, _, _, keys in panels]})
    for axis, (title, mask, queries, keys) in zip(axes, panels, strict=True):
        axis.imshow(mask.numpy(), cmap="Blues", vmin=0, vmax=1.4)
        axis.set_xticks(range(len(keys)), keys, fontsize=8)
        axis.set_yticks(range(len(queries)), queries, fontsize=8)
        axis.set_title(title, fontsize=9)
        axis.tick_params(length=0)
    axes[0].set_ylabel(localized(lang, "query (who looks)", "查询（谁在看）"), fontsize=8)
    fig.supxlabel(localized(lang, "key (what it may see): blue = allowed", "键（能看到什么）：蓝色 = 允许"), fontsize=9)
    return fig
