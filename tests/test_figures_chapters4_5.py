"""The figures of chapters 4 and 5 (positional encoding, attention): they draw what the pages say they draw."""

import pytest

pytest.importorskip("matplotlib")

from pathlib import Path

import numpy as np
import torch

from book.figures import figure_html
from book.figures._common import training_code_digest
from book.figures.attention import (
    gradient_paths,
    input_gradients,
    mask_heatmaps,
    scaling_saturation,
    trained_attention_heads,
)
from book.figures.positional import encoding_curves, encoding_heatmap, position_similarity
from transformer import make_model, sinusoid_table

LANGS = ["en", "zh"]


def _titles(fig) -> str:
    return " ".join([ax.get_title() for ax in fig.axes] + [fig.get_suptitle()])


@pytest.mark.parametrize("lang", LANGS)
def test_encoding_heatmap_shows_the_table(lang):
    fig = encoding_heatmap(lang=lang, max_len=30, d_model=16)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), sinusoid_table(30, 16).numpy())
    assert ("维度" in fig.axes[0].get_xlabel()) == (lang == "zh")
    assert 'alt="a heat map"' in figure_html(fig, alt="a heat map")


@pytest.mark.parametrize("lang", LANGS)
def test_encoding_curves_are_columns_of_the_table_with_their_wavelengths(lang):
    fig = encoding_curves(lang=lang, dims=(4, 5, 12), max_len=40, d_model=64)
    lines = fig.axes[0].get_lines()
    table = sinusoid_table(40, 64).numpy()
    for line, j in zip(lines, (4, 5, 12), strict=True):
        np.testing.assert_allclose(line.get_ydata(), table[:, j])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "11.2" in labels[0] and "cos" in labels[1] and "35.3" in labels[2]


@pytest.mark.parametrize("lang", LANGS)
def test_position_similarity_is_a_matrix_of_dot_products(lang):
    fig = position_similarity(lang=lang, max_len=40, d_model=16, anchor=20)
    table = sinusoid_table(40, 16)
    dots = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(dots, (table @ table.T).numpy(), rtol=1e-6)
    assert dots[20].argmax() == 20 and dots[20, 20] == pytest.approx(8.0)  # d_model / 2
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), dots[20])  # the colorbar comes last


@pytest.mark.parametrize("lang", LANGS)
def test_mask_heatmaps_show_padding_causal_and_their_combination(lang):
    fig = mask_heatmaps(lang=lang)
    padding, causal, both = (ax.images[0].get_array() for ax in fig.axes[:3])
    assert padding.tolist() == [[1, 1, 1, 1, 0, 0]] * 6
    np.testing.assert_array_equal(causal, np.tril(np.ones((6, 6), dtype=int)))
    np.testing.assert_array_equal(both, padding & causal)
    assert ("因果掩码" in _titles(fig)) == (lang == "zh")


@pytest.mark.parametrize("lang", LANGS)
def test_scaling_saturation_shows_the_spread_growing_and_the_scale_fixing_it(lang):
    fig = scaling_saturation(lang=lang, samples=200)
    left, right = fig.axes
    std_raw, std_scaled = (line.get_ydata() for line in left.get_lines())
    d_ks = left.get_lines()[0].get_xdata()
    np.testing.assert_allclose(std_raw, np.sqrt(d_ks), rtol=0.15)
    np.testing.assert_allclose(std_scaled, 1.0, rtol=0.15)
    top_raw, top_scaled = (line.get_ydata() for line in right.get_lines()[:2])
    assert top_raw[-1] > 0.9 and top_scaled.max() < 0.3


def test_input_gradients_vanish_through_the_rnn_but_not_through_attention():
    rnn, attention = input_gradients(seq_len=32, d_model=16, seed=0)
    assert rnn.shape == attention.shape == (32,)
    assert rnn[0] < 1e-6 * rnn[-1]
    assert attention.min() > 0.1 * attention.max()


@pytest.mark.parametrize("lang", LANGS)
def test_gradient_paths_plots_both_curves(lang):
    fig = gradient_paths(lang=lang, seq_len=8, d_model=8)
    assert len(fig.axes[0].get_lines()) == 2
    assert fig.axes[0].get_yscale() == "log"


@pytest.mark.parametrize("lang", LANGS)
def test_trained_attention_heads_draws_every_head_of_three_attentions(lang):
    torch.manual_seed(0)
    model = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2, dropout=0.0).eval()
    src = torch.tensor([[1, 4, 5, 6, 7]])
    fig = trained_attention_heads(lang=lang, model=model, src=src)
    assert len(fig.axes) == 3 * 2
    enc, dec_self, dec_src = (fig.axes[2 * r].images[0].get_array() for r in range(3))
    assert enc.shape == (5, 5) and dec_self.shape == (4, 4) and dec_src.shape == (4, 5)
    np.testing.assert_allclose(enc.sum(-1), 1.0, rtol=1e-5)
    assert np.triu(dec_self, k=1).max() == 0  # the causal mask: no weight on later positions
    assert ("复制任务" in _titles(fig)) == (lang == "zh")
    for module in model.modules():  # the model is left as it was found
        assert getattr(module, "keep_attn", False) is False and getattr(module, "attn", None) is None


def test_figures_reject_an_unknown_language():
    with pytest.raises(ValueError, match=r"lang: expected one of \('en', 'zh'\), got 'fr'"):
        encoding_heatmap(lang="fr")
    with pytest.raises(ValueError, match=r"lang: expected one of \('en', 'zh'\), got 'de'"):
        mask_heatmaps(lang="de")


def test_training_code_digest_follows_the_code_that_trains_the_cached_models(monkeypatch):
    """A cached model is retrained when the loss or a layer changes, not when the command line or another task does."""
    before = training_code_digest()
    read_bytes = Path.read_bytes

    def digest_after_editing(name: str) -> str:
        monkeypatch.setattr(Path, "read_bytes", lambda path: read_bytes(path) + (b"#" if path.name == name else b""))
        return training_code_digest()

    assert digest_after_editing("training.py") != before
    assert digest_after_editing("attention.py") != before
    assert digest_after_editing("cli.py") == before
    assert digest_after_editing("numbers.py") == before
    assert training_code_digest("from transformer.numbers import NumberTask") != before
