"""The figures of chapters 1-3 (tensors, autograd, embeddings): they draw what the pages say they draw."""

import pytest
import torch

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from book.figures import figure_html
from book.figures.autograd import computation_graph, neuron_loss, walk_graph
from book.figures.embeddings import WORDS, category_cosines, embedding_training, train_toy_embeddings
from book.figures.tensors import array_boxes


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_array_boxes_draws_one_box_per_element_and_names_the_axes(lang):
    fig = array_boxes((2, 3, 4), lang=lang)
    texts = _texts(fig)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(boxes) == 2 * 3 * 4 + 1  # plus the outline of the highlighted element
    assert [str(v) for v in range(24)] == [t for t in texts if t.isdigit()]
    axis_word = "axis" if lang == "en" else "轴"
    for i, (size, role) in enumerate([(2, "batch"), (3, "seq_len"), (4, "d_model")]):
        assert any(t.startswith(f"{axis_word} {i}") and str(size) in t and role in t for t in texts)
    assert "x[1, 2, 3] == 23" in texts
    assert 'alt="x"' in figure_html(fig, alt="x")


def test_array_boxes_rejects_a_bad_shape_or_index():
    with pytest.raises(ValueError, match=r"shape: expected three positive sizes .* got \(2, 3\)"):
        array_boxes((2, 3))
    with pytest.raises(ValueError, match=r"highlight: expected an index into shape \(2, 3, 4\), got \(2, 0, 0\)"):
        array_boxes((2, 3, 4), highlight=(2, 0, 0))


def test_walk_graph_visits_a_node_used_twice_once():
    x = torch.tensor(3.0, requires_grad=True)
    f = x * x + x
    graph = walk_graph(f)
    names = [type(node).__name__ for node, _ in graph]
    assert names == ["AddBackward0", "MulBackward0", "AccumulateGrad"]
    accumulate = graph[-1][0]
    assert accumulate.variable is x
    assert graph[1][1] == [accumulate, accumulate]  # both factors of x * x lead to the same node


def test_walk_graph_rejects_a_tensor_without_history():
    with pytest.raises(ValueError, match="output: expected a tensor with a grad_fn, got grad_fn=None"):
        walk_graph(torch.ones(2))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_computation_graph_shows_every_node_and_the_leaves_gradients(lang):
    loss, names = neuron_loss()
    assert (loss.item(), names["w"].grad.item(), names["b"].grad.item()) == (1.0, -1.0, -2.0)
    texts = _texts(computation_graph(lang=lang))
    for name in ["PowBackward0", "SubBackward0", "TanhBackward0", "AddBackward0", "MulBackward0"]:
        assert sum(t.startswith(name) for t in texts) == 1
    assert any("w = 2" in t and "grad = -1" in t for t in texts)
    assert any("b = -1" in t and "grad = -2" in t for t in texts)
    assert sum(t.startswith("None") for t in texts) == 2  # the constant 1 and the input x


def test_toy_training_groups_the_words_of_a_category():
    run = train_toy_embeddings(steps=100, seed=0)
    assert run.before.shape == run.after.shape == (12, 2)
    assert run.losses[-1] < 0.01 < run.losses[0]
    within, across = category_cosines(run.after, run.categories)
    assert within > 0.99
    assert across == pytest.approx(-0.5, abs=0.01)  # three directions 120 degrees apart
    within_before, _ = category_cosines(run.before, run.categories)
    assert abs(within_before) < 0.2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_embedding_training_draws_both_tables_with_every_word(lang):
    fig = embedding_training(lang=lang)
    before, after = fig.axes[:2]
    assert [len(c.get_offsets()) for c in before.collections] == [4, 4, 4]
    assert [len(c.get_offsets()) for c in after.collections] == [4, 4, 4]
    words_before = {t.get_text() for t in before.texts}
    assert words_before == set(WORDS[lang])
    words_after = "".join(t.get_text() for t in after.texts)
    assert all(word in words_after for word in WORDS[lang])
