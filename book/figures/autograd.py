"""Chapter 2's figure: the computation graph autograd records, drawn by walking ``grad_fn.next_functions``.

No graphviz: the graph is read from the tensors themselves and laid out in rows with matplotlib.
"""

from __future__ import annotations

from typing import Literal

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import Tensor
from torch.autograd.graph import Node

from book.figures._common import new_figure

Lang = Literal["en", "zh"]

LABELS = {
    "en": {
        "title": "loss = (tanh(w * x + b) - 1) ** 2, after loss.backward()",
        "arrows": "arrow: grad_fn.next_functions, the way backward() walks",
        "none": "None\n(input without grad)",
        "leaf": "{name} = {value:g}\ngrad = {grad:g}",
    },
    "zh": {
        "title": "loss = (tanh(w * x + b) - 1) ** 2，调用 loss.backward() 之后",
        "arrows": "箭头：grad_fn.next_functions，也就是 backward() 行进的方向",
        "none": "None\n（不需要梯度的输入）",
        "leaf": "{name} = {value:g}\ngrad = {grad:g}",
    },
}


def walk_graph(output: Tensor) -> list[tuple[Node, list[Node | None]]]:
    """Every node of the graph that produced ``output``, each with the nodes it passes gradients on to.

    Starts at ``output.grad_fn`` and follows ``next_functions`` breadth-first, visiting each node once (a
    tensor used twice is one node with two parents). A ``None`` in a node's list stands for an input that
    needs no gradient (a constant, or a tensor with ``requires_grad=False``).

    Args:
        output: A tensor computed from tensors that require gradients.

    Returns:
        ``(node, next_nodes)`` pairs, the output's ``grad_fn`` first.

    Raises:
        ValueError: If ``output`` has no ``grad_fn`` (nothing was recorded).
    """
    if output.grad_fn is None:
        raise ValueError("output: expected a tensor with a grad_fn, got grad_fn=None (nothing required grad)")
    order: list[tuple[Node, list[Node | None]]] = []
    seen = {output.grad_fn}
    queue = [output.grad_fn]
    while queue:
        node = queue.pop(0)
        next_nodes = [fn for fn, _ in node.next_functions]
        order.append((node, next_nodes))
        for fn in next_nodes:
            if fn is not None and fn not in seen:
                seen.add(fn)
                queue.append(fn)
    return order


def _depths(order: list[tuple[Node, list[Node | None]]]) -> dict[Node, int]:
    """Row of each node: the length of the longest path from the output, so every arrow points downwards."""
    depth = {order[0][0]: 0}
    changed = True
    while changed:  # the graph is acyclic and small: relax until nothing moves
        changed = False
        for node, next_nodes in order:
            for fn in next_nodes:
                if fn is not None and depth.get(fn, -1) < depth[node] + 1:
                    depth[fn] = depth[node] + 1
                    changed = True
    return depth


def draw_graph(
    output: Tensor,
    names: dict[str, Tensor],
    notes: dict[str, str] | None = None,
    title: str = "",
    lang: Lang = "en",
) -> Figure:
    """Draw the graph behind ``output``: one box per ``grad_fn`` node, leaves at the bottom.

    Args:
        output: The tensor whose graph is drawn (its ``grad_fn`` is the top box).
        names: Leaf tensors by name; their ``AccumulateGrad`` boxes show the name, the value and, after
            ``backward()``, the gradient (leaves must hold one number each).
        notes: Optional text under a node's class name, keyed by the name (``"MulBackward0": "w * x"``).
        title: Title of the figure.
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure.
    """
    labels = LABELS[lang]
    notes = notes or {}
    order = walk_graph(output)
    depth = _depths(order)
    rows: dict[int, list[object]] = {}  # node or ("none", parent, index) per row, left to right
    parents = {}
    for node, next_nodes in order:
        for k, fn in enumerate(next_nodes):
            if fn is None:
                rows.setdefault(depth[node] + 1, []).append(("none", node, k))
            elif fn not in parents:
                parents[fn] = node
    for node, _ in order:
        rows.setdefault(depth[node], []).append(node)

    n_rows = max(rows) + 1
    fig = new_figure(6.0, 1.05 * n_rows + 0.6)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.9, n_rows - 0.4)
    position: dict[object, tuple[float, float]] = {}
    for row in sorted(rows):
        items = rows[row]

        # keep children under their parents: sort by the parent's x, real nodes before None inputs
        def key(item: object) -> tuple[float, int]:
            if isinstance(item, tuple):
                return position.get(item[1], (0.5, 0))[0], 1
            return position.get(parents.get(item), (0.5, 0))[0], 0

        if row > 0:
            items.sort(key=key)
        for i, item in enumerate(items):
            position[item] = ((i + 1) / (len(items) + 1), n_rows - 1 - row)

    leaf_names = {id(t): name for name, t in names.items()}
    for item, (x, y) in position.items():
        if isinstance(item, tuple):
            text, face, edge, style = labels["none"], "#f3f3f3", "#999999", "dashed"
        elif hasattr(item, "variable"):  # an AccumulateGrad node: where a leaf's gradient is stored
            leaf = item.variable
            name = leaf_names.get(id(leaf), "leaf")
            grad = float("nan") if leaf.grad is None else leaf.grad.item()
            text = f"{type(item).__name__}\n" + labels["leaf"].format(name=name, value=leaf.item(), grad=grad)
            face, edge, style = "#d9ead3", "#38761d", "solid"
        else:
            note = notes.get(type(item).__name__)
            text = type(item).__name__ + (f"\n{note}" if note else "")
            face, edge, style = (
                ("#fce5cd", "#b45f06", "solid") if item is order[0][0] else ("#cfe2f3", "#0b5394", "solid")
            )
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.135, y - 0.3),
                0.27,
                0.6,
                boxstyle="round,pad=0.01,rounding_size=0.03",
                facecolor=face,
                edgecolor=edge,
                linestyle=style,
                linewidth=1.3,
                mutation_aspect=4,
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=9, family="monospace" if style == "solid" else None)

    for node, next_nodes in order:
        x0, y0 = position[node]
        for k, fn in enumerate(next_nodes):
            x1, y1 = position[("none", node, k)] if fn is None else position[fn]
            ax.add_patch(
                FancyArrowPatch(
                    (x0, y0 - 0.3),
                    (x1, y1 + 0.3),
                    arrowstyle="-|>",
                    mutation_scale=12,
                    linewidth=1.2,
                    color="#999999" if fn is None else "#444444",
                )
            )
    ax.text(0.5, -0.75, labels["arrows"], ha="center", va="center", fontsize=9, color="#444444")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def neuron_loss() -> tuple[Tensor, dict[str, Tensor]]:
    """The chapter's small expression, ``loss = (tanh(w * x + b) - 1) ** 2``, after ``loss.backward()``.

    Returns:
        ``loss`` and the leaves by name: ``w`` and ``b`` require gradients, ``x`` does not.
    """
    x = torch.tensor(0.5)
    w = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(-1.0, requires_grad=True)
    loss = (torch.tanh(w * x + b) - 1) ** 2
    loss.backward()
    return loss, {"w": w, "b": b, "x": x}


def computation_graph(lang: Lang = "en") -> Figure:
    """The graph of ``loss = (tanh(w * x + b) - 1) ** 2``, read from ``loss.grad_fn``.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure.
    """
    loss, names = neuron_loss()
    notes = {
        "PowBackward0": "(·) ** 2",
        "SubBackward0": "y - 1",
        "TanhBackward0": "y = tanh(z)",
        "AddBackward0": "z = w * x + b",
        "MulBackward0": "w * x",
    }
    return draw_graph(loss, names, notes, title=LABELS[lang]["title"], lang=lang)
