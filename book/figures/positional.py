"""Figures of chapter 4: the sinusoidal positional encoding, seen as a matrix, as curves and as similarities."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from book.figures._common import localized, new_figure
from transformer.positional import sinusoid_table


def encoding_heatmap(lang: str = "en", max_len: int = 100, d_model: int = 64) -> Figure:
    """The table of ``sinusoid_table(max_len, d_model)`` as a heat map: one row per position, one column per dimension.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        max_len: Number of positions (rows).
        d_model: Number of dimensions (columns).

    Returns:
        The figure.
    """
    title = localized(lang, "Positional encoding", "位置编码矩阵")
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    image = ax.imshow(sinusoid_table(max_len, d_model).numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_title(f"{title}: max_len={max_len}, d_model={d_model}")
    ax.set_xlabel(localized(lang, "dimension j (even: sin, odd: cos)", "维度 j（偶数位 sin，奇数位 cos）"))
    ax.set_ylabel(localized(lang, "position pos", "位置 pos"))
    fig.colorbar(image, ax=ax, label=localized(lang, "value", "取值"))
    return fig


def encoding_curves(
    lang: str = "en", dims: tuple[int, ...] = (4, 5, 12, 24), max_len: int = 100, d_model: int = 64
) -> Figure:
    """A few columns of the table drawn as curves over the positions, each labelled with its wavelength.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        dims: The dimensions (columns) to draw.
        max_len: Number of positions.
        d_model: Size of the encoding.

    Returns:
        The figure.
    """
    table = sinusoid_table(max_len, d_model).numpy()
    fig = new_figure(8.5, 3.6)
    ax = fig.add_subplot()
    for j in dims:
        wavelength = 2 * math.pi * 10000 ** (2 * (j // 2) / d_model)
        kind = "sin" if j % 2 == 0 else "cos"
        label = localized(
            lang, f"dim {j} ({kind}, wavelength {wavelength:.1f})", f"维度 {j}（{kind}，波长 {wavelength:.1f}）"
        )
        ax.plot(table[:, j], marker=".", markersize=3, linewidth=1, label=label)
    ax.set_xlabel(localized(lang, "position pos", "位置 pos"))
    ax.set_ylabel(localized(lang, "value", "取值"))
    ax.set_title(localized(lang, f"Columns of the encoding, d_model={d_model}", f"位置编码的几列，d_model={d_model}"))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return fig


def position_similarity(lang: str = "en", max_len: int = 100, d_model: int = 64, anchor: int = 50) -> Figure:
    """Dot products between the encodings of every pair of positions, and of one position with all others.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        max_len: Number of positions.
        d_model: Size of the encoding.
        anchor: The position compared with every other one in the right panel.

    Returns:
        The figure: the ``(max_len, max_len)`` matrix of dot products on the left, row ``anchor`` on the right.
    """
    table = sinusoid_table(max_len, d_model)
    dots = (table @ table.T).numpy()  # (max_len, max_len)
    fig = new_figure(9.0, 3.8)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))
    image = left.imshow(dots, cmap="viridis")
    left.set_title(localized(lang, "PE[p] · PE[q]", "PE[p] · PE[q]（点积）"))
    left.set_xlabel(localized(lang, "position q", "位置 q"))
    left.set_ylabel(localized(lang, "position p", "位置 p"))
    fig.colorbar(image, ax=left, shrink=0.85)
    right.plot(dots[anchor])
    right.axvline(anchor, color="grey", linestyle=":")
    right.set_title(localized(lang, f"PE[{anchor}] · PE[q]", f"位置 {anchor} 与各个位置的点积"))
    right.set_xlabel(localized(lang, "position q", "位置 q"))
    right.set_ylabel(localized(lang, "dot product", "点积"))
    return fig
