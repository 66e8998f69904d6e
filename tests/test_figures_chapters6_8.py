"""The figures of chapters 6 and 8 (the encoder, training): they draw what the pages say they draw."""

import contextlib
import dataclasses
import io
from pathlib import Path

import pytest
from pytest_codeblocks.main import extract_from_file

pytest.importorskip("matplotlib")

import numpy as np
import torch

from book.figures import cached_copy_model, figure_html
from book.figures.encoder import (
    SENTENCE,
    NormPlacementRecipe,
    corrupted_memory_predictions,
    encoder_data_flow,
    memory_corruption,
    norm_placement_curves,
    norm_placement_losses,
    source_attention,
    source_attention_heatmap,
)
from book.figures.training import CHAPTER_TASK, PAPER_SCHEDULES, loss_curve, rate_schedule, training_log
from transformer import MultiHeadedAttention, rate
from transformer.tasks import CopyTask

LANGS = ["en", "zh"]
DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A fresh cache directory per test, not per module (conftest.py): these tests count what one test cached."""
    monkeypatch.setenv("TRANSFORMER_BOOK_CACHE", str(tmp_path))
    return tmp_path


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("lang", LANGS)
def test_encoder_data_flow_labels_the_memory_and_its_shapes(lang):
    texts = _texts(encoder_data_flow(lang=lang))
    assert texts.count("(batch, src_len, d_model)") >= 4
    assert "d_ff" in texts and "src_mask" in texts
    assert ("记忆" in texts) == (lang == "zh")
    assert 'alt="the encoder"' in figure_html(encoder_data_flow(lang=lang), alt="the encoder")


def test_figures_reject_an_unknown_language():
    with pytest.raises(ValueError, match="lang: expected one of"):
        encoder_data_flow(lang="fr")


def test_source_attention_of_the_trained_model_looks_one_position_ahead():
    model = cached_copy_model()
    src = torch.tensor([SENTENCE])
    weights = source_attention(model, src)
    assert weights.shape == (2, 9, 10)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 9))
    assert weights[0].argmax(dim=-1).tolist() == list(range(1, 10))
    # The weights were recorded by the readable path, which is switched off again afterwards.
    assert not any(m.keep_attn or m.attn is not None for m in model.modules() if isinstance(m, MultiHeadedAttention))


@pytest.mark.parametrize("lang", LANGS)
def test_source_attention_heatmap_draws_the_weights(lang):
    model = cached_copy_model()
    fig = source_attention_heatmap(lang=lang, model=model)
    weights = source_attention(model, torch.tensor([SENTENCE]))
    for layer in range(2):
        np.testing.assert_allclose(fig.axes[layer].images[0].get_array(), weights[layer].numpy())
    assert ("解码器" in fig.axes[0].get_title()) == (lang == "zh")


def test_zeroing_one_memory_position_breaks_exactly_the_output_that_copies_it():
    probs = corrupted_memory_predictions(cached_copy_model(), torch.tensor([SENTENCE]))
    assert probs.shape == (10, 9)
    broken = probs < 0.5
    expected = torch.zeros(10, 9, dtype=torch.bool)
    expected[torch.arange(1, 10), torch.arange(9)] = True  # memory position j feeds decoder position j - 1
    assert torch.equal(broken, expected)


@pytest.mark.parametrize("lang", LANGS)
def test_memory_corruption_draws_the_probabilities(lang):
    model = cached_copy_model()
    fig = memory_corruption(lang=lang, model=model)
    expected = corrupted_memory_predictions(model, torch.tensor([SENTENCE])).numpy()
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), expected)


def test_norm_placement_losses_are_computed_once_and_cached(private_cache):
    recipe = NormPlacementRecipe(N=2, d_model=16, steps=4, batch_size=4)
    losses = norm_placement_losses(recipe)
    assert set(losses) == {"pre-LN", "post-LN"}
    assert all(len(curve) == 4 for curve in losses.values())
    assert losses["pre-LN"] != losses["post-LN"]  # the same seed and data, a different model
    assert len(list(private_cache.glob("norm-placement-*.json"))) == 1
    assert norm_placement_losses(recipe) == losses  # read back from the cache


@pytest.mark.parametrize("lang", LANGS)
def test_norm_placement_curves_plot_both_runs(lang, private_cache):
    recipe = NormPlacementRecipe(N=2, d_model=16, steps=4, batch_size=4)
    fig = norm_placement_curves(lang=lang, recipe=recipe)
    lines = fig.axes[0].get_lines()
    losses = norm_placement_losses(recipe)
    np.testing.assert_allclose(lines[0].get_ydata(), losses["pre-LN"])
    np.testing.assert_allclose(lines[1].get_ydata(), losses["post-LN"])
    assert dataclasses.asdict(recipe)["N"] == 2


# Chapter 8: the training run, its schedule and its loss curve.

TINY_TASK = CopyTask(steps=12, batch_size=4, warmup=5, factor=1.0, cooldown=0.0, N=1, d_model=8, d_ff=16, h=2)


def test_training_log_is_computed_once_and_cached(private_cache):
    log = training_log(TINY_TASK)
    assert [s.step for s in log] == list(range(1, 13))
    assert len(list(private_cache.glob("log-*.json"))) == 1
    assert training_log(TINY_TASK) == log  # read back from the cache, StepStats again


def test_cached_runs_are_kept_apart_by_the_number_of_threads(private_cache):
    """Threads change the order of float sums, hence the run: a log or loss made with 2 threads is not reused."""
    recipe = NormPlacementRecipe(N=1, d_model=8, steps=2, batch_size=2)
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            training_log(TINY_TASK)
            norm_placement_losses(recipe)
    finally:
        torch.set_num_threads(threads)
    assert len(list(private_cache.glob("log-*.json"))) == 2
    assert len(list(private_cache.glob("norm-placement-*.json"))) == 2


@pytest.mark.parametrize("lang", LANGS)
def test_rate_schedule_draws_the_formula_and_the_rates_used(lang, private_cache):
    fig = rate_schedule(lang=lang, task=TINY_TASK)
    left, right = fig.axes
    assert len(left.get_lines()) == len(PAPER_SCHEDULES)
    np.testing.assert_allclose(left.get_lines()[0].get_ydata()[3999], rate(4000, 512, 1.0, 4000) * 1000)
    formula, used = right.get_lines()[:2]
    log = training_log(TINY_TASK)
    np.testing.assert_allclose(used.get_ydata(), [s.lr * 1000 for s in log[::10]])
    np.testing.assert_allclose(formula.get_ydata(), [s.lr * 1000 for s in log])  # LambdaLR applies rate exactly
    assert ("步数" in right.get_xlabel()) == (lang == "zh")


@pytest.mark.parametrize("lang", LANGS)
def test_loss_curve_draws_every_step(lang, private_cache):
    fig = loss_curve(lang=lang, task=TINY_TASK)
    log = training_log(TINY_TASK)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [s.loss for s in log])
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [s.lr * 1000 for s in log])


def test_the_loop_of_chapter_8_is_the_run_behind_its_figures_and_its_cached_model():
    """The page trains with an explicit loop; later blocks and the figures use CopyTask. They must agree."""
    # What cached_copy_model(steps=300, N=1, d_model=32, d_ff=64, end_symbol=True, seed=3) trains:
    cached_recipe = CopyTask(
        vocab=11,
        seq_len=10,
        steps=300,
        seed=3,
        batch_size=64,
        factor=1.0,
        cooldown=0.0,
        N=1,
        d_model=32,
        d_ff=64,
        end_symbol=True,
    )
    assert cached_recipe == CHAPTER_TASK
    blocks = [b for b in extract_from_file(DOCS / "training.md") if b.syntax == "python" and "train_steps(" in b.code]
    assert len(blocks) == 1, "the chapter has one training loop"
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(blocks[0].code, namespace)
    cached = cached_copy_model(steps=300, N=1, d_model=32, d_ff=64, end_symbol=True, seed=3)
    for (name, ours), theirs in zip(namespace["model"].state_dict().items(), cached.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs), name
    log = {s.step: s for s in training_log(CHAPTER_TASK)}
    for line in printed.getvalue().splitlines():
        step, loss = int(line.split()[1]), float(line.split()[3])
        assert round(log[step].loss, 3) == loss
