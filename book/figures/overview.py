"""The home page's figures: the Transformer at a glance, a positional-encoding heat map, a causal mask; and its
chapter map, which marks the chapters that are still placeholders.

The architecture figure links each box to the chapter that builds it. A link inside a picture only works when the
SVG is part of the page, so ``linked_figure_html`` inlines it, where ``figure_html`` embeds an ``<img>``.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from book.figures._common import layer_frame, new_figure
from transformer.masks import subsequent_mask
from transformer.positional import sinusoid_table

Lang = Literal["en", "zh"]

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"

# The marker every placeholder chapter carries (the title of its "coming soon" note), in each language.
PLACEHOLDER_TITLES = {"en": "Coming soon", "zh": "即将完成"}


@dataclass(frozen=True)
class Chapter:
    """A chapter of the book: its page (``docs/<slug>.md``) and what it teaches, in each language."""

    slug: str
    summary_en: str
    summary_zh: str

    def page(self, lang: Lang) -> Path:
        """The chapter's Markdown file in ``lang``."""
        return DOCS_DIR / (f"{self.slug}.md" if lang == "en" else f"{self.slug}.{lang}.md")

    def title(self, lang: Lang) -> str:
        """The first heading of the chapter's page, so the map follows the page (without its ``{#id}``)."""
        for line in self.page(lang).read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return re.sub(r"\s*\{#[^}]*\}\s*$", "", line[2:]).strip()
        return self.slug

    def is_placeholder(self, lang: Lang) -> bool:
        """Whether the page is still the "coming soon" placeholder."""
        text = self.page(lang).read_text(encoding="utf-8")
        return re.search(rf'^!!! \w+ "{re.escape(PLACEHOLDER_TITLES[lang])}"', text, re.MULTILINE) is not None

    def summary(self, lang: Lang) -> str:
        """One line on what the chapter teaches."""
        return self.summary_en if lang == "en" else self.summary_zh


CHAPTERS = (
    Chapter(
        "tensors",
        "Tensors, shapes, broadcasting and batched matrix products: the language of every later chapter.",
        "张量、形状、广播与批量矩阵乘法：后面每一章都用这门语言来写。",
    ),
    Chapter(
        "autograd",
        "How PyTorch computes gradients through a computation graph, and one training step by hand.",
        "PyTorch 如何沿计算图求梯度，以及亲手走完一步训练。",
    ),
    Chapter(
        "embeddings",
        "Turning token ids into vectors: the embedding table, the vocabulary, and the √d_model scale.",
        "把词元编号变成向量：词嵌入表、词表，以及 √d_model 缩放。",
    ),
    Chapter(
        "positional-encoding",
        "Sines and cosines that tell the model where each token sits.",
        "用正弦和余弦告诉模型每个词元所在的位置。",
    ),
    Chapter(
        "attention",
        "Scaled dot-product attention, masks, and multi-head attention.",
        "缩放点积注意力、掩码与多头注意力。",
    ),
    Chapter(
        "encoder",
        "Residual connections, layer normalization, the feed-forward network: the encoder layer and its stack.",
        "残差连接、层归一化、前馈网络：编码器层及其堆叠。",
    ),
    Chapter(
        "decoder",
        "The causal decoder, cross-attention to the memory, the generator; the whole model, its parameters, dropout.",
        "带因果掩码的解码器、对记忆的交叉注意力、生成器；完整的模型、它的参数和 dropout。",
    ),
    Chapter(
        "training",
        "Training on the copy task, greedy decoding, held-out data, checkpoints, the command line and torchrun.",
        "在复制任务上训练、贪心解码、留出集、检查点、命令行与 torchrun。",
    ),
    Chapter(
        "translation",
        "Real language: tokens, numbers translated between English and Chinese, beam search, attention explored.",
        "真实的语言：分词、英汉数字互译、束搜索，以及可交互的注意力。",
    ),
    Chapter(
        "descendants",
        "GPT and BERT from the same layers: a decoder-only and an encoder-only model, sampling, filling in blanks.",
        "用同一套层搭出 GPT 和 BERT：仅解码器与仅编码器模型、采样、填空。",
    ),
)

_TEXT = {
    "en": {
        "chapter": "Chapter",
        "teaches": "What it teaches",
        "coming_soon": "coming soon",
        "pe_title": "Sinusoidal positional encoding",
        "pe_x": "encoding dimension",
        "pe_y": "position in the sequence",
        "mask_title": "Causal mask: may position i attend to position j?",
        "mask_x": "key position j",
        "mask_y": "query position i",
        "mask_yes": "yes",
        "mask_no": "no",
        "src": "source tokens",
        "tgt": "target tokens (shifted right)",
        "embedding": "Embedding",
        "positional": "+ Positional encoding",
        "self_attention": "Multi-head self-attention",
        "masked_attention": "Masked multi-head self-attention",
        "cross_attention": "Cross-attention to the memory",
        "add_norm": "Add & Norm",
        "ffn": "Feed-forward network",
        "encoder": "Encoder layer × N",
        "decoder": "Decoder layer × N",
        "memory": "memory",
        "generator": "Linear + softmax",
        "output": "next-token probabilities",
        "foundations": "Foundations:",
        "tensors": "Tensors",
        "autograd": "Autograd",
        "ch": "ch. {}",
    },
    "zh": {
        "chapter": "章节",
        "teaches": "内容",
        "coming_soon": "编写中",
        "pe_title": "正弦位置编码",
        "pe_x": "编码维度",
        "pe_y": "序列中的位置",
        "mask_title": "因果掩码：位置 i 能否关注位置 j？",
        "mask_x": "键的位置 j",
        "mask_y": "查询的位置 i",
        "mask_yes": "能",
        "mask_no": "否",
        "src": "源序列词元",
        "tgt": "目标序列词元（右移一位）",
        "embedding": "词嵌入",
        "positional": "+ 位置编码",
        "self_attention": "多头自注意力",
        "masked_attention": "带掩码的多头自注意力",
        "cross_attention": "对记忆的交叉注意力",
        "add_norm": "残差连接与层归一化",
        "ffn": "前馈网络",
        "encoder": "编码器层 × N",
        "decoder": "解码器层 × N",
        "memory": "记忆",
        "generator": "线性层 + softmax",
        "output": "下一个词元的概率",
        "foundations": "基础：",
        "tensors": "张量",
        "autograd": "自动求导",
        "ch": "第 {} 章",
    },
}


def chapter_map(lang: Lang = "en") -> str:
    """The home page's table of chapters, as Markdown: number, linked title, summary, placeholders marked.

    Args:
        lang: Language of the table, ``"en"`` or ``"zh"``.

    Returns:
        A Markdown table, one row per chapter, each title linked to its page.
    """
    text = _TEXT[lang]
    rows = [f"| | {text['chapter']} | {text['teaches']} |", "|---:|---|---|"]
    for number, chapter in enumerate(CHAPTERS, start=1):
        title = re.sub(r"^\d+\.\s*", "", chapter.title(lang))
        link = f"[{title}]({chapter.slug}/)"  # the built URL: markdown-exec output skips mkdocs' .md resolution
        summary = chapter.summary(lang)
        if chapter.is_placeholder(lang):
            link += f" *({text['coming_soon']})*"
            summary = f'<span class="book-coming-soon">{summary}</span>'
        rows.append(f"| {number} | {link} | {summary} |")
    return "\n".join(rows)


def benchmark_table(lang: Lang = "en", path: Path = DOCS_DIR.parent / "benchmarks" / "results.json") -> str:
    """The performance page's table, as Markdown, read from the record that ``benchmarks/run.py --save`` writes.

    Args:
        lang: Language of the table, ``"en"`` or ``"zh"`` (the record carries a Chinese name for every result).
        path: The record.

    Returns:
        A sentence naming the machine and saying which way the ratios run, then a Markdown table of the results,
        each with the date it was measured on (a comparison can be re-run alone).
    """
    record = json.loads(path.read_text(encoding="utf-8"))
    if lang == "zh":
        intro = f"测量环境：{machine_zh(record['machine'])}，torch {record['torch']}，{record['threads']} 个线程。"
        intro += "“A 比 B”一行的数值是 A 的耗时除以 B 的耗时：小于 1 表示 A 更快。"
        intro += "加速比反过来，是慢的一方的耗时除以快的一方的耗时。"
        rows = ["| 测量项 | 数值 | 测量日期 |", "|---|---:|---:|"]
    else:
        intro = f"Machine: {record['machine']}, torch {record['torch']}, {record['threads']} threads. "
        intro += "A row \"A vs B\" is A's time divided by B's time: below 1, A is faster. A speed-up is the other way "
        intro += "round, the slow path's time divided by the fast one's."
        rows = ["| Measurement | Value | Date |", "|---|---:|---:|"]
    names = record.get("chinese", {}) if lang == "zh" else {}
    for name, value in record["results"].items():
        rows.append(f"| {names.get(name, name)} | {value} | {measured_on(record, name)} |")
    return intro + "\n\n" + "\n".join(rows)


def measured_on(record: dict, name: str) -> str:
    """The date the result ``name`` of a ``benchmarks/run.py`` record was measured on (older records: the record's)."""
    return record.get("measured", {}).get(name, record["date"])


def machine_zh(machine: str) -> str:
    """The record's machine, ``"2 cores, x86_64, Linux"``, in Chinese: ``"2 核，x86_64，Linux"``."""
    return machine.replace(" cores", " 核").replace(", ", "，")


def site_weight_table(lang: Lang = "en", path: Path = DOCS_DIR.parent / "benchmarks" / "site-weight.json") -> str:
    """The performance page's table of what a first visit downloads, read from the record the browser test checks.

    Args:
        lang: Language of the table, ``"en"`` or ``"zh"``.
        path: The record (``tests/test_browser.py`` measures the same numbers and fails if they drift from it).

    Returns:
        A sentence naming the date and the budget, then a Markdown table: per language, the heaviest page and the
        heaviest chapter, in kB.
    """
    record = json.loads(path.read_text(encoding="utf-8"))
    budget = record["chapter_budget_bytes"] / 1000
    if lang == "zh":
        intro = f"测量于 {record['date']}：每一页都在空缓存下打开，统计搜索之前下载的内容。"
        intro += f"一章的预算是 {budget:,.0f} kB（未压缩）。"
        rows = ["| 语言 | 最重的页面 | kB | 最重的一章 | kB |", "|---|---|---:|---|---:|"]
        names = {"en": "英文", "zh": "中文"}
    else:
        intro = f"Measured on {record['date']}, each page opened with an empty cache, before any search. "
        intro += f"A chapter's budget is {budget:,.0f} kB (uncompressed)."
        rows = ["| Language | Heaviest page | kB | Heaviest chapter | kB |", "|---|---|---:|---|---:|"]
        names = {"en": "English", "zh": "Chinese"}
    for language, weight in record["languages"].items():
        page, chapter = weight["heaviest_page"], weight["heaviest_chapter"]
        rows.append(
            f"| {names[language]} | `{page}` | {weight['heaviest_page_bytes'] / 1000:,.0f} "
            f"| `{chapter}` | {weight['heaviest_chapter_bytes'] / 1000:,.0f} |"
        )
    return intro + "\n\n" + "\n".join(rows)


def positional_encoding_heatmap(lang: Lang = "en", max_len: int = 64, d_model: int = 64) -> Figure:
    """The sinusoid table as a heat map: one row per position, one column per encoding dimension.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        max_len: Number of positions shown.
        d_model: Number of encoding dimensions shown.

    Returns:
        The figure.
    """
    text = _TEXT[lang]
    table = sinusoid_table(max_len, d_model)  # (max_len, d_model)
    fig = new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    image = ax.imshow(table.numpy(), cmap="RdBu", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_title(text["pe_title"])
    ax.set_xlabel(text["pe_x"])
    ax.set_ylabel(text["pe_y"])
    fig.colorbar(image, ax=ax, shrink=0.85)
    return fig


def causal_mask_figure(lang: Lang = "en", size: int = 8) -> Figure:
    """The causal mask of ``subsequent_mask(size)``: which key positions each query position may attend to.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        size: Sequence length.

    Returns:
        The figure.
    """
    text = _TEXT[lang]
    mask = subsequent_mask(size)[0]  # (size, size), True = may attend
    fig = new_figure(4.6, 4.2)
    ax = fig.add_subplot()
    ax.imshow(mask.numpy(), cmap="Blues", vmin=-0.4, vmax=1.2, interpolation="nearest")
    for i in range(size):
        for j in range(size):
            allowed = bool(mask[i, j])
            ax.text(j, i, "✓" if allowed else "·", ha="center", va="center", color="white" if allowed else "grey")
    ax.set_xticks(range(size))
    ax.set_yticks(range(size))
    ax.set_xticks([k - 0.5 for k in range(1, size)], minor=True)
    ax.set_yticks([k - 0.5 for k in range(1, size)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(text["mask_x"])
    ax.set_ylabel(text["mask_y"])
    ax.set_title(text["mask_title"], fontsize=10, pad=10, y=-0.12)
    return fig


def architecture_figure(lang: Lang = "en") -> Figure:
    """The encoder-decoder at a glance, after figure 1 of the paper; each box links to the chapter building it.

    The links are relative (``attention/``), so they work from the home page of either language, once the SVG
    is inlined with ``linked_figure_html``.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure.
    """
    text = _TEXT[lang]
    fig = new_figure(7.2, 7.4)
    fig.set_layout_engine("none")  # one axes filling the figure: nothing for a layout engine to arrange
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 12)
    ax.set_ylim(-1.2, 11.2)
    ax.set_axis_off()
    number = {chapter.slug: index for index, chapter in enumerate(CHAPTERS, start=1)}

    def box(x: float, y: float, width: float, height: float, label: str, slug: str, color: str) -> None:
        patch = FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=color,
            edgecolor="#37474f",
            linewidth=1.2,
            zorder=2,
        )
        patch.set_url(f"{slug}/")
        ax.add_patch(patch)
        label_artist = ax.text(x - 0.1, y, label, ha="center", va="center", fontsize=9, zorder=3)
        label_artist.set_url(f"{slug}/")
        badge = ax.text(
            x + width / 2 - 0.08,
            y + height / 2 - 0.08,
            text["ch"].format(number[slug]),
            ha="right",
            va="top",
            fontsize=6,
            color="#455a64",
            zorder=3,
        )
        badge.set_url(f"{slug}/")

    def arrow(start: tuple[float, float], end: tuple[float, float], **style: object) -> None:
        ax.add_patch(
            FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color="#37474f", zorder=1, **style)
        )

    def block(x: float, y0: float, y1: float, label: str, slug: str) -> None:
        frame = layer_frame(x - 2.45, y0, 4.9, y1 - y0)
        frame.set_url(f"{slug}/")
        ax.add_patch(frame)
        caption = ax.text(x - 2.35, y1 - 0.05, label, ha="left", va="top", fontsize=8.5, weight="bold", zorder=3)
        caption.set_url(f"{slug}/")

    enc, dec = 3.0, 9.0
    width, height = 4.2, 0.6
    attention_color, norm_color, ffn_color = "#ffe0b2", "#fff9c4", "#c8e6c9"

    for x, label in ((enc, text["src"]), (dec, text["tgt"])):
        ax.text(x, 0.35, label, ha="center", va="center", fontsize=8.5, style="italic")
        arrow((x, 0.6), (x, 1.0))
        box(x, 1.3, width, height, text["embedding"], "embeddings", "#e1bee7")
        arrow((x, 1.6), (x, 2.0))
        box(x, 2.3, width, height, text["positional"], "positional-encoding", "#bbdefb")
        arrow((x, 2.6), (x, 3.35))

    add_norm = (text["add_norm"], "encoder", norm_color)
    stacks = [  # (x, top of the frame, label, chapter, row spacing, rows from the bottom)
        (
            enc,
            7.9,
            text["encoder"],
            "encoder",
            1.0,
            [
                (text["self_attention"], "attention", attention_color),
                add_norm,
                (text["ffn"], "encoder", ffn_color),
                add_norm,
            ],
        ),
        (
            dec,
            9.3,
            text["decoder"],
            "decoder",
            0.9,
            [
                (text["masked_attention"], "attention", attention_color),
                add_norm,
                (text["cross_attention"], "decoder", attention_color),
                add_norm,
                (text["ffn"], "encoder", ffn_color),
                add_norm,
            ],
        ),
    ]
    for x, top, title, chapter, spacing, rows in stacks:
        block(x, 3.2, top, title, chapter)
        for row, (label, slug, color) in enumerate(rows):
            y = 3.8 + row * spacing
            box(x, y, width, height, label, slug, color)
            if row:
                arrow((x, y - spacing + 0.3), (x, y - 0.3))

    # The encoder's output, the memory, feeds every decoder layer's cross-attention.
    cross_y, elbow_x, top_y = 3.8 + 2 * 0.9, 6.0, 8.5
    ax.plot([enc, enc, elbow_x, elbow_x], [7.1, top_y, top_y, cross_y], color="#37474f", linewidth=1.2, zorder=1)
    arrow((elbow_x, cross_y), (dec - width / 2, cross_y))
    ax.text((enc + elbow_x) / 2, top_y + 0.25, text["memory"], ha="center", va="center", fontsize=8.5, style="italic")

    arrow((dec, 9.3), (dec, 9.6))
    box(dec, 9.9, width, height, text["generator"], "decoder", "#cfd8dc")
    arrow((dec, 10.2), (dec, 10.55))
    # The next token is what training (teacher forcing) and decoding (fed back as input) are about: chapter 8.
    output = ax.text(dec, 10.8, text["output"], ha="center", va="center", fontsize=8.5, style="italic")
    output.set_url("training/")

    ax.text(0.2, -0.55, text["foundations"], ha="left", va="center", fontsize=8.5, weight="bold")
    box(4.0, -0.55, 2.6, 0.55, text["tensors"], "tensors", "#eceff1")
    box(7.0, -0.55, 2.6, 0.55, text["autograd"], "autograd", "#eceff1")
    return fig


def linked_figure_html(fig: Figure, alt: str) -> str:
    """The figure as inline SVG, so that the links of its artists (``set_url``) can be clicked.

    Args:
        fig: The figure.
        alt: What the figure shows, in the page's language; becomes the SVG's accessible name.

    Returns:
        An HTML ``<figure>`` holding the ``<svg>`` element.
    """
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and doctype: not allowed inside HTML
    label = html.escape(alt, quote=True)
    # SVG 2's plain href, read by every current browser; and the chapter opens in the same tab, as any link.
    svg = re.sub(r'<a xlink:href="([^"]*)" target="_blank">', r'<a href="\1">', svg)
    start, end = svg.index("<svg"), svg.index(">", svg.index("<svg")) + 1
    opening = svg[start:end].replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    # No <title>: it would hang the whole description as a tooltip over every box; aria-label names the figure.
    return f'<figure class="book-figure">{opening}{svg[end:]}</figure>'
