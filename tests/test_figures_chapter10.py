"""The figures and tables of chapter 10 (GPT and BERT): they show what the page says they show.

The chapter's own models take minutes to train; these tests train tiny recipes into a private cache instead.
"""

import json

import pytest

pytest.importorskip("matplotlib")

import torch

from book.figures import descendants
from book.figures.descendants import (
    LM_BENCHMARK,
    LM_MEASURES,
    cached_lm_run,
    family_masks,
    learning_curves,
    lm_benchmark_table,
    where_they_look,
)
from book.figures.translation import VALIDATE_EVERY, cached_number_run
from transformer import NumberLMTask

# Recipes small enough to train in seconds: the tests check the plumbing, not the accuracy.
TINY = {"steps": VALIDATE_EVERY, "batch_size": 8, "warmup": 20, "N": 1, "d_model": 16, "d_ff": 32, "h": 2}
TINY_GPT, TINY_BERT = NumberLMTask(**TINY), NumberLMTask(objective="masked", **TINY)


@pytest.fixture
def tiny_runs(private_cache, monkeypatch):
    """The chapter's models, as the figures ask for them, replaced by the tiny recipes."""
    monkeypatch.setattr(descendants, "BERT_TASK", TINY_BERT)
    monkeypatch.setattr(descendants, "GPT_TASK", TINY_GPT)
    monkeypatch.setattr(descendants, "cached_number_run", lambda direction: cached_number_run(direction, **TINY))
    return private_cache


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_family_masks_draws_the_five_masks_in_the_pages_language(lang):
    fig = family_masks(lang)
    titles = [axis.get_title() for axis in fig.axes]
    assert len(titles) == 5
    assert ("仅解码器（GPT）" in titles) == (lang == "zh")
    causal = fig.axes[3].get_images()[0].get_array()
    assert causal.shape == (4, 4) and causal[0, 1] == 0 and causal[3, 0] == 1  # <s> five = 五: left only
    assert fig.axes[4].get_images()[0].get_array().min() == 1  # both sides


@pytest.mark.parametrize("task", [TINY_GPT, TINY_BERT], ids=["next-token", "masked"])
def test_a_run_is_trained_once_then_read_from_the_cache(private_cache, task):
    run = cached_lm_run(task)
    assert [s.step for s in run.log] == list(range(1, TINY["steps"] + 1))
    assert [step for step, _ in run.validation] == [VALIDATE_EVERY]
    assert all(0 <= match <= 1 for _, match in run.validation)
    assert not run.model.training and run.model.config.causal == (task.objective == "next-token")
    (weights,) = private_cache.glob(f"lm-{task.objective}-*.safetensors")
    again = cached_lm_run(task)
    assert again.log == run.log and again.validation == run.validation and same_weights(run.model, again.model)
    assert list(private_cache.glob(f"lm-{task.objective}-*.safetensors")) == [weights]
    # A model trained by the recipe alone, without the validations in between, is the same model.
    plain = task.build_model()
    for _ in task.train(plain):
        pass
    assert same_weights(run.model, plain)


def test_another_recipe_is_another_run(private_cache):
    cached_lm_run(TINY_GPT)
    other = NumberLMTask(**TINY | {"steps": 1})
    cached_lm_run(other)
    assert len(list(private_cache.glob("lm-next-token-*.safetensors"))) == 2
    assert cached_lm_run(other).log[-1].step == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_where_they_look_puts_the_decoder_only_models_attention_on_the_left_only(tiny_runs, lang):
    fig = where_they_look(lang)
    bert, gpt = fig.axes
    assert (bert.get_title() == "仅编码器（BERT）：空白处") == (lang == "zh")
    labels = [label.get_text() for label in gpt.get_xticklabels()]
    blank = labels.index("_")
    assert labels[0] == "<s>" and labels[blank - 1] == "万" and labels[blank + 1] == "千"
    bert_weights = [bar.get_height() for bar in bert.patches]
    gpt_weights = [bar.get_height() for bar in gpt.patches]
    assert len(bert_weights) == len(gpt_weights) == len(labels)
    assert sum(bert_weights) == pytest.approx(1, abs=1e-5) and sum(gpt_weights) == pytest.approx(1, abs=1e-5)
    assert all(w == 0 for w in gpt_weights[blank:])  # the step that writes the blank sees only its left
    assert sum(bert_weights[blank + 1 :]) > 0  # the blank sees its right
    red = [i for i, bar in enumerate(bert.patches) if bar.get_facecolor()[0] > 0.5]
    assert red == [blank] and [i for i, bar in enumerate(gpt.patches) if bar.get_facecolor()[0] > 0.5] == [blank - 1]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_learning_curves_are_the_cached_validations(tiny_runs, lang):
    (axis,) = learning_curves(lang).axes
    encoder_decoder, gpt = axis.get_lines()
    assert list(gpt.get_xdata()) == [0, VALIDATE_EVERY]
    assert list(gpt.get_ydata())[1] == 100 * cached_lm_run(TINY_GPT).validation[0][1]
    assert list(encoder_decoder.get_ydata())[1] == 100 * cached_number_run("en-zh", **TINY).validation[0][1]
    assert ("仅解码器（GPT）" in [text.get_text() for text in axis.get_legend().get_texts()]) == (lang == "zh")


def record(tmp_path, results):
    path = tmp_path / "results.json"
    machine = {"date": "2026-11-30", "machine": "2 cores, x86_64, Linux", "torch": "2.13.0+cpu", "threads": 2}
    path.write_text(json.dumps(machine | {"results": results, "chinese": {}}), encoding="utf-8")
    return path


def test_the_benchmark_table_shows_the_records_lm_rows(tmp_path):
    values = {"parameters": [279351, 672787], "training seconds": [170.4, 150.2], "exact match": [0.9915, 0.999]}
    results = {
        f"lm en-zh, {model}: {measure}": values[measure][i]
        for i, model in enumerate(LM_BENCHMARK)
        for measure in LM_MEASURES
    }
    table = lm_benchmark_table("en", record(tmp_path, results)).splitlines()
    assert table[0] == "Measured on 2026-11-30: 2 cores, x86_64, Linux, torch 2.13.0+cpu, 2 threads."
    assert table[2:] == [
        "| | decoder-only | encoder-decoder |",
        "|---|---:|---:|",
        "| parameters | 279,351 | 672,787 |",
        "| training seconds | 170 | 150 |",
        "| exact match, 2000 test numbers | 99.15 % | 99.90 % |",
    ]
    assert lm_benchmark_table("zh", record(tmp_path, results)).startswith("测量于 2026-11-30：2 核，x86_64")


def test_without_the_benchmarks_rows_the_table_says_how_to_measure_them(tmp_path):
    path = record(tmp_path, {"lm en-zh, decoder-only: parameters": 279351})
    assert lm_benchmark_table("en", path) == (
        "`results.json` holds no measurement of this comparison yet: run `benchmarks/run.py lm --save`."
    )
    assert "还没有" in lm_benchmark_table("zh", path)
