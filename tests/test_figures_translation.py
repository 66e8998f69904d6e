"""The figures, tables and explorer data of chapter 9 (translating numbers): they show what the page says they show.

The chapter's own models take minutes to train; these tests train a tiny recipe into a private cache instead.
"""

import json
import re

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tokenizers")

import torch

from book.figures.translation import (
    BEAM_SIZES,
    SHOWCASE,
    SUBWORD_SENTENCES,
    VALIDATE_EVERY,
    _byte_level_alphabet,
    _shown,
    beam_results,
    beam_table,
    cached_number_run,
    cross_attention,
    explorer_data,
    explorer_html,
    memory_damage,
    subword_pieces,
    subword_splits,
)
from transformer import NumberTask

# A recipe small enough to train in seconds: the tests check the plumbing, not the accuracy.
TINY = {"steps": VALIDATE_EVERY, "batch_size": 16, "warmup": 20, "N": 1, "d_model": 16, "d_ff": 32, "h": 2}


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty cache directory, for the test of the cache itself: its first run trains."""
    monkeypatch.setenv("TRANSFORMER_BOOK_CACHE", str(tmp_path))
    return tmp_path


def test_the_byte_level_alphabet_stands_for_every_byte_once():
    alphabet = _byte_level_alphabet()
    assert sorted(alphabet.values()) == list(range(256))
    assert all(len(c) == 1 and c.isprintable() and not c.isspace() for c in alphabet)
    assert alphabet["A"] == ord("A") and alphabet["Ġ"] == ord(" ")  # GPT-2's stand-in for a space


def test_a_subword_is_shown_as_text_or_as_its_bytes():
    assert _shown(b" the") == "␣the"
    assert _shown("编".encode()) == "编"
    assert _shown("编".encode()[:2]) == "<e7 bc>"


def test_the_books_bpe_splits_each_sentence_into_pieces_that_join_back():
    chapters, size, pieces = subword_pieces(vocab_size=1000)
    assert chapters == 8 and size == 1000
    assert list(pieces) == list(SUBWORD_SENTENCES)
    for sentence, split in pieces.items():
        assert b"".join(split) == sentence.encode()
        assert 1 < len(split) < len(sentence.encode())  # merged, but not into one token
    table = subword_splits("zh", vocab_size=1000)
    assert table.startswith("| 句子 | 子词 | 个数 |") and "从第 1 至 8 章" in table


def test_a_run_is_trained_once_then_read_from_the_cache(empty_cache):
    run = cached_number_run("en-zh", **TINY)
    assert [s.step for s in run.log] == list(range(1, TINY["steps"] + 1))
    assert [step for step, _ in run.validation] == [VALIDATE_EVERY]
    assert not run.model.training
    assert len(list(empty_cache.glob("numbers-en-zh-*.safetensors"))) == 1
    again = cached_number_run("en-zh", **TINY)
    assert again.log == run.log and again.validation == run.validation
    assert all(
        torch.equal(a, b)
        for a, b in zip(run.model.state_dict().values(), again.model.state_dict().values(), strict=True)
    )
    # A model trained by the recipe alone, without the validations in between, is the same model.
    task = NumberTask("en-zh", **TINY)
    plain = task.build_model()
    for _ in task.train(plain):
        pass
    assert all(
        torch.equal(a, b) for a, b in zip(run.model.state_dict().values(), plain.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("direction", ["en-zh", "zh-en"])
def test_cross_attention_has_a_row_per_output_token_and_a_column_per_source_token(private_cache, direction):
    model = cached_number_run(direction, **TINY).model
    sources, outputs, weights = cross_attention(model, direction, 345607)
    source_text = NumberTask(direction).source_text(345607)
    assert (
        sources[0] == "<s>"
        and sources[-1] == "</s>"
        and len(sources) == len(NumberTask(direction).vocabs[0].split(source_text)) + 2
    )
    assert outputs[-1] == "</s>"
    assert weights.shape == (TINY["N"], TINY["h"], len(outputs), len(sources))
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(weights.shape[:-1]))


def test_memory_damage_row_zero_is_the_undamaged_model(private_cache):
    model = cached_number_run("en-zh", **TINY).model
    sources, outputs, probs = memory_damage(model, "en-zh", 305)
    assert sources == ["<s>", "three", "hundred", "and", "five", "</s>"]
    assert outputs == ["三", "百", "零", "五", "</s>"]
    assert probs.shape == (len(sources) + 1, len(outputs))
    assert ((probs >= 0) & (probs <= 1)).all()


def test_the_explorer_data_matches_the_models_attention(private_cache):
    data = explorer_data(**TINY)
    assert (data["layers"], data["heads"]) == (TINY["N"], TINY["h"])
    directions = [e["direction"] for e in data["examples"]]
    assert directions == sorted(directions)  # one direction, then the other
    assert [e["number"] for e in data["examples"][: len(SHOWCASE)]] == list(SHOWCASE)
    model = cached_number_run("zh-en", **TINY).model
    example = next(e for e in data["examples"] if e["direction"] == "zh-en" and e["number"] == 345607)
    sources, outputs, weights = cross_attention(model, "zh-en", 345607)
    assert (example["source"], example["output"]) == (sources, outputs)
    assert example["weights"] == (weights * 100).round().int().tolist()
    assert example["label"] == "345,607"
    for e in data["examples"]:
        task = NumberTask(e["direction"])
        assert e["correct"] == (e["output"][:-1] == task.vocabs[1].split(task.target_text(e["number"])))
        assert all(abs(sum(row) - 100) <= len(row) for layer in e["weights"] for head in layer for row in head)


def test_the_explorer_html_holds_its_data_as_json(private_cache):
    page = explorer_html("zh", **TINY)
    assert page.startswith('<figure class="attention-explorer">') and page.endswith("</figure>")
    (payload,) = re.findall(r'<script type="application/json">(.*?)</script>', page)
    assert json.loads(payload) == explorer_data(**TINY)
    assert "<figcaption>本章两个模型" in page


def test_the_beam_table_has_a_row_per_beam_size(private_cache):
    results = beam_results(50, **TINY)
    assert [(r.direction, r.beam_size) for r in results] == [(d, b) for d in ("en-zh", "zh-en") for b in BEAM_SIZES]
    assert all(0 <= r.exact_match <= 1 and r.seconds > 0 for r in results)
    assert beam_results(50, **TINY) == results  # from the cache
    rows = beam_table("en", 50, **TINY).splitlines()
    assert len(rows) == 2 + len(BEAM_SIZES)
    assert rows[2].startswith("| 1 |") and "1.0× greedy" in rows[2]
    assert "贪心解码的" in beam_table("zh", 50, **TINY)
