import pytest
import torch

from transformer import BOS, EOS, PAD, UNK, Vocab
from transformer.numbers import chinese, english, number_vocabs


def test_special_tokens_have_fixed_ids_in_every_vocabulary():
    for vocab in (*number_vocabs(), Vocab([], "en"), Vocab(["五"], "zh")):
        assert vocab.tokens[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
        assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)


@pytest.mark.parametrize("n", [0, 7, 10, 15, 110, 1010, 10010, 345607, 20_000_000, 99_999_999, 123_456_789])
def test_encode_then_decode_gives_the_text_back(n):
    english_vocab, chinese_vocab = number_vocabs()
    for vocab, text in ((english_vocab, english(n)), (chinese_vocab, chinese(n))):
        ids = vocab.encode(text)
        assert ids[0] == BOS and ids[-1] == EOS and ids.dtype == torch.long
        assert vocab.decode(ids) == text


def test_english_splits_into_words_hyphens_and_commas_chinese_into_characters():
    english_vocab, chinese_vocab = number_vocabs()
    assert english_vocab.split("Forty-five thousand, six") == ["forty", "-", "five", "thousand", ",", "six"]
    assert chinese_vocab.split("三十四万 五千") == ["三", "十", "四", "万", "五", "千"]


def test_decode_stops_at_the_end_symbol_and_skips_padding():
    vocab = Vocab(["three", "hundred"], "en")
    assert vocab.decode([PAD, BOS, 4, 5, EOS, 4, 4]) == "three hundred"
    assert vocab.decode(torch.tensor([BOS, 4, UNK])) == "three <unk>"


def test_unknown_tokens_are_errors_unless_unk_is_allowed():
    english_vocab, chinese_vocab = number_vocabs()
    with pytest.raises(
        ValueError,
        match=r"text: 'thousands' in 'five thousands' is not in the en vocabulary \(expected one of: zero one",
    ):
        english_vocab.encode("five thousands")
    with pytest.raises(ValueError, match=r"text: '两' in '两百' is not in the zh vocabulary"):
        chinese_vocab.encode("两百")
    with pytest.raises(ValueError, match=r"'&'"):
        english_vocab.encode("three & five")  # a sign is a token, reported rather than dropped
    assert chinese_vocab.encode("两百", unknown=True).tolist() == [BOS, UNK, chinese_vocab.encode("百")[1], EOS]


def test_build_keeps_the_order_of_first_appearance():
    assert Vocab.build(["one hundred and one", "two hundred"], "en").tokens[4:] == ["one", "hundred", "and", "two"]


def test_json_round_trip_and_equality():
    for vocab in number_vocabs():
        assert Vocab.from_json(vocab.to_json()) == vocab
    assert Vocab(["a"], "en") != Vocab(["a"], "zh")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Vocab(["a"], "fr"), r"language: expected one of \('en', 'zh', 'en\+zh'\), got 'fr'"),
        (lambda: Vocab(["a", "a"], "en"), r"tokens: 'a' appears twice"),
        (lambda: Vocab(["<s>"], "en"), r"tokens: '<s>' appears twice \(or is a special token"),
        (lambda: Vocab(["forty-five"], "en"), r"tokens: 'forty-five' is not one en token"),
        (lambda: Vocab(["三百"], "zh"), r"tokens: '三百' is not one zh token"),
        (lambda: Vocab(["a"], "en").decode([9]), r"ids: expected ids in 0 \.\. 4, got 9"),
        (lambda: Vocab.from_json({"language": "en"}), r"expected \{'language': ..., 'tokens': \[...\]\}"),
        (lambda: Vocab.from_json({"language": "en", "tokens": [1]}), r"tokens: expected a list of strings"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
