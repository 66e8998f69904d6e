from collections import Counter

import pytest
import torch

from transformer import BOS, EOS, NumberTask, encode_sentences, number_vocabs, split_of, translate
from transformer.numbers import chinese, english


def test_ground_truth_comes_from_the_libraries_with_their_conventions():
    assert english(345607) == "three hundred and forty-five thousand, six hundred and seven"
    assert chinese(345607) == "三十四万五千六百零七"
    assert (chinese(10), chinese(110), chinese(10010)) == ("十", "一百一十", "一万零一十")  # cn2an's 一十 after 零
    assert chinese(100_000_001) == "一亿零一"


def test_splits_are_disjoint_by_value_and_training_never_draws_a_held_out_number():
    task = NumberTask(batch_size=256)
    test, validation = set(task.held_out(2000, "test")), set(task.held_out(2000, "validation"))
    assert len(test) == len(validation) == 2000 and not test & validation
    assert {split_of(n) for n in test} == {"test"} and {split_of(n) for n in validation} == {"validation"}
    generator = torch.Generator().manual_seed(0)
    drawn = set(task.training_numbers(50_000, generator))
    assert not drawn & (test | validation) and {split_of(n) for n in drawn} == {"train"}


def test_split_proportions_are_the_same_at_every_magnitude():
    for low in (1000, 1_000_000, 90_000_000):
        counts = Counter(split_of(n) for n in range(low, low + 20_000))
        assert 0.88 < counts["train"] / 20_000 < 0.92 and 0.04 < counts["test"] / 20_000 < 0.06


def test_every_magnitude_is_equally_likely_in_training():
    numbers = NumberTask().training_numbers(16_000, torch.Generator().manual_seed(1))
    counts = Counter(len(str(n)) for n in numbers)
    assert sorted(counts) == list(range(1, 9)) and all(1800 < c < 2200 for c in counts.values())


def test_held_out_numbers_spread_over_magnitudes_the_small_ones_give_what_they_have():
    numbers = NumberTask().held_out(2000)
    counts = Counter(len(str(n)) for n in numbers)
    assert numbers == sorted(set(numbers))
    assert counts[1] + counts[2] < 20 and counts[3] < 60  # about 5 % of 10, 90 and 900 numbers
    assert all(380 <= counts[d] <= 390 for d in range(4, 9))
    assert NumberTask().held_out(2000) == numbers  # the same seed, the same numbers


def test_out_of_range_numbers_have_nine_digits_and_need_yi():
    numbers = NumberTask().out_of_range(50)
    assert len(set(numbers)) == 50 and all(10**8 <= n < 10**9 for n in numbers)
    assert all("亿" in chinese(n) for n in numbers)


@pytest.mark.parametrize(("direction", "source", "target"), [("en-zh", "en", "zh"), ("zh-en", "zh", "en")])
def test_batches_hold_the_number_in_both_languages(direction, source, target):
    task = NumberTask(direction)
    assert (task.vocabs[0].language, task.vocabs[1].language) == (source, target)
    batch = task.batch([305, 7])
    assert batch.src[:, 0].tolist() == [BOS, BOS] and batch.tgt[:, 0].tolist() == [BOS, BOS]
    assert task.vocabs[0].decode(batch.src[0]) == task.source_text(305)
    assert task.vocabs[1].decode(torch.cat([batch.tgt[1], batch.tgt_y[1, -1:]])) == task.target_text(7)
    assert EOS in batch.tgt_y[0].tolist()


def test_model_sizes_follow_the_vocabularies():
    english_vocab, chinese_vocab = number_vocabs()
    config = NumberTask("zh-en", N=1, d_model=16, d_ff=32, h=2).build_model().config
    assert (config.src_vocab, config.tgt_vocab) == (len(chinese_vocab), len(english_vocab))


def test_a_short_run_learns_and_a_resumed_state_continues():
    task = NumberTask(steps=3, batch_size=16, N=1, d_model=16, d_ff=32, h=2)
    model = task.build_model()
    state = task.start(model)
    first = [stats.step for stats in task.train(model, state=state)]
    assert first == [1, 2, 3] and state.step == 3
    assert 0.0 <= task.exact_match(model, n=20) <= 1.0


def test_translate_errors_name_the_unknown_word():
    task = NumberTask(N=1, d_model=16, d_ff=32, h=2)
    model = task.build_model()
    with pytest.raises(ValueError, match=r"text: 'fourty' in 'fourty two' is not in the en vocabulary"):
        translate(model, *task.vocabs, ["fourty two"])
    with pytest.raises(ValueError, match=r"beam_size: expected an integer >= 1, got 0"):
        translate(model, *task.vocabs, ["two"], beam_size=0)
    assert translate(model, *task.vocabs, []) == []
    assert len(translate(model, *task.vocabs, ["two", "three"], beam_size=2)) == 2


def test_translate_refuses_empty_and_too_long_sentences_before_translating_any():
    task = NumberTask(N=1, d_model=16, d_ff=32, h=2)
    model = task.build_model()
    with pytest.raises(ValueError, match=r"^texts: sentence 2 is empty; expected at least one word$"):
        translate(model, *task.vocabs, ["two", "  "])
    longest = " ".join(["one"] * (NumberTask.max_len - 2))
    assert encode_sentences(model, task.vocabs[0], [longest])[0].shape == (NumberTask.max_len,)
    with pytest.raises(ValueError, match=r"^texts: sentence 1 has 63 tokens; the model reads at most 62$"):
        translate(model, *task.vocabs, [longest + " one"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "en-fr"}, r"direction: expected one of \('en-zh', 'zh-en'\), got 'en-fr'"),
        ({"steps": 0}, r"steps: expected an integer >= 1, got 0"),
        ({"cooldown": 2.0}, r"cooldown: expected a number between 0 and 1, got 2.0"),
        ({"d_model": 30, "h": 4}, r"d_model: expected a multiple of h=4, got 30"),
    ],
)
def test_recipe_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NumberTask(**kwargs)


def test_held_out_errors():
    with pytest.raises(ValueError, match=r"split: expected one of \('train', 'validation', 'test'\), got 'dev'"):
        NumberTask().held_out(10, "dev")
    with pytest.raises(ValueError, match=r"n: expected an integer between 1 and 100000, got 0"):
        NumberTask().held_out(0)
    with pytest.raises(ValueError, match=r"n: expected an integer between 1 and 100000, got 100001"):
        NumberTask().held_out(100_001)


@pytest.mark.parametrize("n", [100, 500, 700])
def test_held_out_gives_all_a_split_has_where_it_is_short_of_the_share(n):
    """The validation split has about 45 three-digit numbers, fewer than 500's share of 62: it gives them all."""
    numbers = NumberTask("en-zh").held_out(n, split="validation")
    assert len(numbers) == len(set(numbers)) == n and all(split_of(k) == "validation" for k in numbers)
