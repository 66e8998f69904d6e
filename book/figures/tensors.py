"""Chapter 1's figure: a 3-D array drawn as boxes, one grid per index of axis 0, with its three axes labelled."""

from __future__ import annotations

from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from book.figures._common import new_figure

Lang = Literal["en", "zh"]

# Axis names in a Transformer's activations, the shape every later chapter passes around.
AXIS_ROLES = ("batch", "seq_len", "d_model")

LABELS = {
    "en": {
        "axis": "axis {i}: size {n}",
        "role": "({role})",
    },
    "zh": {
        "axis": "轴 {i}：长度 {n}",
        "role": "（{role}）",
    },
}

BLOCK_COLOURS = ("#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc")


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], colour: str) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, linewidth=1.6, color=colour))


def array_boxes(
    shape: tuple[int, int, int] = (2, 3, 4), highlight: tuple[int, int, int] | None = (1, 2, 3), lang: Lang = "en"
) -> Figure:
    """Draw ``np.arange(prod(shape)).reshape(shape)`` as grids of boxes, one grid per index of axis 0.

    Each box shows its value; arrows name the three axes with their sizes and the role each axis plays in a
    Transformer (``batch``, ``seq_len``, ``d_model``). One element can be outlined, with its index.

    Args:
        shape: A 3-D shape; axis 0 should be small (one grid is drawn per index, at most 4).
        highlight: Index of the element to outline, or ``None``.
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure.

    Raises:
        ValueError: If ``shape`` does not have three positive sizes or its axis 0 is larger than 4, or if
            ``highlight`` is not an index into ``shape``.
    """
    if len(shape) != 3 or min(shape) < 1 or shape[0] > len(BLOCK_COLOURS):
        raise ValueError(f"shape: expected three positive sizes with shape[0] <= 4, got {tuple(shape)}")
    if highlight is not None and (
        len(highlight) != 3 or not all(0 <= i < n for i, n in zip(highlight, shape, strict=True))
    ):
        raise ValueError(f"highlight: expected an index into shape {tuple(shape)}, got {tuple(highlight)}")
    labels = LABELS[lang]
    blocks, rows, cols = shape
    values = np.arange(blocks * rows * cols).reshape(shape)
    gap = 1.6  # horizontal space between two grids
    width = blocks * cols + (blocks - 1) * gap
    right = width + (3.4 if highlight is not None else 0.2)  # room for the highlighted element's label
    inch = 0.6  # per box
    fig = new_figure(inch * (right + 1.4), inch * (rows + 3.0) + 0.3)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_xlim(-1.4, right)
    ax.set_ylim(-1.8, rows + 1.2)

    for k in range(blocks):
        left = k * (cols + gap)
        for i in range(rows):
            for j in range(cols):
                y = rows - 1 - i  # row 0 at the top, as NumPy prints it
                ax.add_patch(
                    Rectangle((left + j, y), 1, 1, facecolor=BLOCK_COLOURS[k], edgecolor="#333333", linewidth=1.2)
                )
                ax.text(left + j + 0.5, y + 0.5, str(values[k, i, j]), ha="center", va="center", fontsize=11)
        ax.text(
            left + cols / 2,
            -0.35,
            f"x[{k}]",
            ha="center",
            va="top",
            fontsize=11,
            family="monospace",
        )

    axis_colours = ("#b45f06", "#0b5394", "#38761d")
    role = labels["role"]

    def axis_label(i: int) -> str:
        return labels["axis"].format(i=i, n=shape[i]) + " " + role.format(role=AXIS_ROLES[i])

    # axis 2 runs along each row, left to right
    _arrow(ax, (0, rows + 0.35), (cols, rows + 0.35), axis_colours[2])
    ax.text(cols / 2, rows + 0.55, axis_label(2), ha="center", va="bottom", color=axis_colours[2], fontsize=10)
    # axis 1 runs down the rows
    _arrow(ax, (-0.35, rows), (-0.35, 0), axis_colours[1])
    ax.text(-0.55, rows / 2, axis_label(1), ha="right", va="center", rotation=90, color=axis_colours[1], fontsize=10)
    # axis 0 goes from one grid to the next
    if blocks > 1:
        start = cols / 2
        end = (blocks - 1) * (cols + gap) + cols / 2
        _arrow(ax, (start, -1.05), (end, -1.05), axis_colours[0])
        ax.text((start + end) / 2, -1.2, axis_label(0), ha="center", va="top", color=axis_colours[0], fontsize=10)
    else:
        ax.text(cols / 2, -1.2, axis_label(0), ha="center", va="top", color=axis_colours[0], fontsize=10)
    title = f"x = np.arange({values.size}).reshape{tuple(shape)}  # x.shape == {tuple(shape)}"
    ax.set_title(title, fontsize=11, family="monospace")
    if highlight is not None:
        k, i, j = highlight
        x, y = k * (cols + gap) + j, rows - 1 - i
        ax.add_patch(Rectangle((x, y), 1, 1, fill=False, edgecolor="#cc0000", linewidth=3))
        ax.annotate(
            f"x[{k}, {i}, {j}] == {values[k, i, j]}",
            xy=(x + 1, y + 0.5),
            xytext=(k * (cols + gap) + cols + 0.3, y + 0.5),
            color="#cc0000",
            fontsize=10,
            family="monospace",
            va="center",
            arrowprops={"arrowstyle": "-", "color": "#cc0000", "linewidth": 1.2},
        )
    return fig
