"""Translating numbers between English words and Chinese numerals: a small task in real language.

345,607 is "three hundred and forty-five thousand, six hundred and seven" in English and "三十四万五千六百零七"
in Chinese. English groups the digits by thousands, Chinese by 万 (10⁴); Chinese writes 零 where English says
nothing; the words come in another order. The ground truth comes from two libraries, not from rules written
here: ``num2words`` for English and ``cn2an`` for Chinese. The book follows their conventions, ``cn2an``'s
一十 after 零 included (10,010 is 一万零一十; 10 alone is 十).

Numbers are split by value into training, validation and test numbers, so a held-out number never appears in
training, not even inside a batch of another magnitude.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cn2an
import num2words
import torch
from torch.nn.utils.rnn import pad_sequence

from transformer.data import BOS, EOS, PAD, Batch
from transformer.decoding import beam_search, greedy_decode
from transformer.model import EncoderDecoder, make_model
from transformer.tasks import Recipe, TrainingState
from transformer.vocab import Vocab

DIRECTIONS = ("en-zh", "zh-en")
MAGNITUDES = range(1, 9)  # numbers of 1 to 8 digits: 0 <= n < 10**8
SPLITS = ("train", "validation", "test")
MAX_HELD_OUT = 100_000  # far below the smallest split (5 % of 10⁸ numbers), so drawing them never takes long
# Of every 100 buckets of the value hash, how many go to each split.
_SPLIT_BUCKETS = {"train": range(0, 90), "validation": range(90, 95), "test": range(95, 100)}
_MASK64 = (1 << 64) - 1
_ENGLISH = num2words.CONVERTER_CLASSES["en"]  # num2words(n) without its per-call look-up: 2x faster
_CHINESE = cn2an.An2Cn()


@lru_cache(maxsize=1 << 18)
def english(n: int) -> str:
    """``n`` in English words, by ``num2words``.

    Examples:
        >>> english(345607)
        'three hundred and forty-five thousand, six hundred and seven'
    """
    return _ENGLISH.to_cardinal(n)


@lru_cache(maxsize=1 << 18)
def chinese(n: int) -> str:
    """``n`` in Chinese numerals, by ``cn2an``.

    Examples:
        >>> chinese(345607), chinese(10010)
        ('三十四万五千六百零七', '一万零一十')
    """
    return _CHINESE.an2cn(n)


def split_of(n: int) -> str:
    """Which split the number ``n`` belongs to: ``"train"`` (90 %), ``"validation"`` (5 %) or ``"test"`` (5 %).

    The split depends on the value alone, through a hash that scatters neighbours (splitmix64's finaliser), so
    every magnitude is split in the same proportions and 305 can be a test number while 306 is not.

    Examples:
        >>> [split_of(n) for n in (5, 6, 13)]
        ['train', 'validation', 'test']
    """
    z = (n + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    bucket = (z ^ (z >> 31)) % 100
    return next(split for split, buckets in _SPLIT_BUCKETS.items() if bucket in buckets)


def _magnitude_range(digits: int) -> range:
    """The numbers written with ``digits`` digits (0 counts as one digit)."""
    return range(0 if digits == 1 else 10 ** (digits - 1), 10**digits)


@lru_cache(maxsize=1)
def number_vocabs() -> tuple[Vocab, Vocab]:
    """The English and the Chinese vocabularies: every token the two libraries write for 0 to 10⁹ - 1.

    Built from the libraries' own output for the numbers below 1000 and a few that bring in the larger units
    (thousand, million, 万, 亿), in the order the tokens first appear. 亿 (10⁸) and the English of the out-of-range
    numbers are included, so that the out-of-range set can be encoded; training never shows them.

    Returns:
        ``(english, chinese)``.

    Examples:
        >>> en, zh = number_vocabs()
        >>> len(en), len(zh), "".join(zh.tokens[4:])
        (38, 19, '零一二三四五六七八九十百万千亿')
    """
    covering = [*range(1000), 1_001_001, 100_000_000]
    return Vocab.build(map(english, covering), "en"), Vocab.build(map(chinese, covering), "zh")


@dataclass(frozen=True)
class NumberTask(Recipe):
    """Number translation, English words ↔ Chinese numerals, and a recipe that learns it.

    Training numbers are drawn with every magnitude (1 to 8 digits) equally likely, from the training split
    (``split_of``); evaluation uses the test split. Source and target are words (English) or characters
    (Chinese), the vocabularies of ``number_vocabs``.

    Attributes:
        direction: Which way to translate: ``en-zh`` (English to Chinese) or ``zh-en``.

    The other fields are the recipe's, documented with ``Recipe``; here ``batch_size`` counts numbers.

    Examples:
        >>> task = NumberTask("zh-en")
        >>> task.source_text(305), task.target_text(305)
        ('三百零五', 'three hundred and five')
    """

    direction: str = "en-zh"
    # 800 steps, the rate falling to 0 over the second half: about three minutes on the 2-core machine, and at least
    # 99.5 % of the test numbers in each direction (benchmarks/run.py numbers). The first edition's 1500 steps with a
    # 30 % cool-down took twice as long and gained at most a tenth of a percent.
    steps: int = 800
    batch_size: int = 128
    warmup: int = 200
    factor: float = 1.0
    cooldown: float = 0.5
    N: int = 2
    d_model: int = 128
    d_ff: int = 256
    h: int = 4
    dropout: float = 0.0
    seed: int = 0

    max_len = 64  # positions of the model's table: the longest sentence (9 digits, English) has 24 tokens

    def __post_init__(self) -> None:
        """Check the recipe (``Recipe.check_recipe``) and the direction.

        Raises:
            ValueError: If ``direction`` is not ``en-zh`` or ``zh-en``, or a field of the recipe is out of range.
        """
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction: expected one of {DIRECTIONS}, got {self.direction!r}")
        self.check_recipe()

    @property
    def vocabs(self) -> tuple[Vocab, Vocab]:
        """``(source, target)`` vocabularies of this direction."""
        english_vocab, chinese_vocab = number_vocabs()
        return (english_vocab, chinese_vocab) if self.direction == "en-zh" else (chinese_vocab, english_vocab)

    def source_text(self, n: int) -> str:
        """``n`` in the source language."""
        return english(n) if self.direction == "en-zh" else chinese(n)

    def target_text(self, n: int) -> str:
        """``n`` in the target language: the translation the model should write."""
        return chinese(n) if self.direction == "en-zh" else english(n)

    def build_model(self) -> EncoderDecoder:
        """A fresh model for this task, initialised from ``seed``."""
        source, target = self.vocabs
        torch.manual_seed(self.seed)
        return make_model(
            len(source), len(target), self.N, self.d_model, self.d_ff, self.h, self.dropout, max_len=self.max_len
        )

    def batch(self, numbers: Sequence[int], device: torch.device | str | None = None) -> Batch:
        """The numbers as a ``Batch``: source and target ids between ``BOS`` and ``EOS``, padded with ``PAD``.

        Args:
            numbers: Integers ``>= 0``.
            device: Where the batch goes (``None``: the CPU).

        Returns:
            ``Batch(src, tgt)``, ``src`` of shape ``(len(numbers), longest source)``.

        Examples:
            >>> batch = NumberTask("en-zh").batch([5, 305])
            >>> batch.src.tolist()
            [[1, 9, 2, 0, 0, 0], [1, 7, 33, 34, 9, 2]]
        """
        source, target = self.vocabs
        src = pad_sequence([source.encode(self.source_text(n)) for n in numbers], batch_first=True, padding_value=PAD)
        tgt = pad_sequence([target.encode(self.target_text(n)) for n in numbers], batch_first=True, padding_value=PAD)
        return Batch(src.to(device), tgt.to(device), PAD)

    def training_numbers(self, n: int, generator: torch.Generator) -> list[int]:
        """``n`` numbers of the training split, each magnitude (1 to 8 digits) equally likely.

        Args:
            n: How many.
            generator: The data stream: the numbers are drawn from its current state.

        Returns:
            The numbers (repeats are possible, and common among the small ones).
        """
        numbers: list[int] = []
        while len(numbers) < n:
            digits = torch.randint(MAGNITUDES.start, MAGNITUDES.stop, (n,), generator=generator)
            fractions = torch.rand(n, generator=generator, dtype=torch.float64)
            for d, u in zip(digits.tolist(), fractions.tolist(), strict=True):
                values = _magnitude_range(d)
                number = values.start + int(u * len(values))
                if split_of(number) == "train" and len(numbers) < n:
                    numbers.append(number)
        return numbers

    def batches(self, state: TrainingState, size: int, device: torch.device) -> Iterator[Batch]:
        """The numbers still to train on: ``size`` training numbers per step (``training_numbers``), on ``device``."""
        for _ in range(self.steps - state.step):
            yield self.batch(self.training_numbers(size, state.generator), device)

    def held_out(self, n: int = 2000, split: str = "test", seed: int = 12345, world_size: int = 1) -> list[int]:
        """``n`` distinct numbers of ``split``, spread evenly over the magnitudes.

        Each magnitude gets an equal share. The small ones have few numbers in a split (about 5 % of the ten
        1-digit numbers is none or one): a magnitude that has fewer than its share gives all it has, and the
        larger magnitudes share the rest.

        Args:
            n: How many.
            split: ``"train"``, ``"validation"`` or ``"test"``.
            seed: Seed of the draw.
            world_size: Accepted for the command line, which passes it to every task; the split is by value, so
                the numbers do not depend on it.

        Returns:
            The numbers, in increasing order.

        Raises:
            ValueError: If ``n`` is not between 1 and ``MAX_HELD_OUT``, or ``split`` is not a split.
        """
        if not 1 <= n <= MAX_HELD_OUT:
            raise ValueError(f"n: expected an integer between 1 and {MAX_HELD_OUT}, got {n}")
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
        generator = torch.Generator().manual_seed(seed)
        chosen: list[int] = []
        for i, digits in enumerate(MAGNITUDES):
            share = (n - len(chosen)) // (len(MAGNITUDES) - i)
            values = _magnitude_range(digits)
            # A split holds about 5 % of a magnitude: where that may fall short of the share, count it first, or
            # drawing at random would never stop.
            pool = [v for v in values if split_of(v) == split] if len(values) <= 40 * share else None
            if len(values) <= 10 * share or (pool is not None and len(pool) < share):
                # few numbers, or fewer in this split than the share: list them all, then pick
                picked = torch.randperm(len(pool), generator=generator)[:share].tolist()
                chosen += sorted(pool[j] for j in picked)
                continue
            found: set[int] = set()
            while len(found) < share:
                for u in torch.rand(share, generator=generator, dtype=torch.float64).tolist():
                    number = values.start + int(u * len(values))
                    if split_of(number) == split and len(found) < share:
                        found.add(number)
            chosen += sorted(found)
        return chosen

    def out_of_range(self, n: int = 500, seed: int = 12345) -> list[int]:
        """``n`` distinct 9-digit numbers (10⁸ to 10⁹ - 1), beyond anything training shows: 亿 in Chinese.

        Raises:
            ValueError: If ``n`` is below 1.
        """
        if n < 1:
            raise ValueError(f"n: expected an integer >= 1, got {n}")
        generator = torch.Generator().manual_seed(seed)
        values = _magnitude_range(9)
        found: set[int] = set()
        while len(found) < n:
            found.update(values.start + int(u * len(values)) for u in torch.rand(n, generator=generator).tolist())
        return sorted(found)[:n]

    def translate(self, model: EncoderDecoder, numbers: Sequence[int], beam_size: int = 1) -> list[str]:
        """The model's translations of ``numbers``, each given to it in the source language (see ``translate``).

        Args:
            model: A trained model; the batch goes to the device of its weights.
            numbers: Integers ``>= 0``.
            beam_size: 1 for greedy decoding, more for beam search.

        Returns:
            One sentence of the target language per number.
        """
        return translate(model, *self.vocabs, [self.source_text(n) for n in numbers], beam_size=beam_size)

    def exact_match(
        self,
        model: EncoderDecoder,
        n: int = 2000,
        seed: int = 12345,
        world_size: int = 1,
        *,
        split: str = "test",
        beam_size: int = 1,
    ) -> float:
        """Fraction of ``n`` held-out numbers (``held_out``) whose translation is exactly the reference.

        Args:
            model: A trained model.
            n: Number of held-out numbers.
            seed: Seed of the held-out numbers.
            world_size: Accepted for the command line, which passes it to every task; the split is by value, so
                the held-out numbers do not depend on it.
            split: ``"test"`` or ``"validation"``.
            beam_size: 1 for greedy decoding, more for beam search.

        Returns:
            A number between 0 and 1.
        """
        numbers = self.held_out(n, split, seed, world_size)
        translations = self.translate(model, numbers, beam_size)
        hits = sum(out == self.target_text(k) for out, k in zip(translations, numbers, strict=True))
        return round(hits / len(numbers), 4)


def encode_sentences(model: EncoderDecoder, source: Vocab, texts: Sequence[str]) -> list[torch.Tensor]:
    """The ids of each sentence, every one checked before any is translated.

    An empty sentence would still be "translated": the model writes whatever follows ``BOS`` on nothing (a trained
    en-zh model writes 十). A sentence longer than the model's positional table cannot be read at all.

    Args:
        model: The model that will read them (its source positional table bounds their length).
        source: Vocabulary of the source language.
        texts: Sentences of the source language.

    Returns:
        One tensor of ids per sentence, ``BOS`` and ``EOS`` included, shape ``(n_tokens + 2,)``.

    Raises:
        ValueError: If a sentence holds a token ``source`` does not know (the message names it), holds no token,
            or has more tokens than the model reads (the message says which sentence, counting from 1).

    Examples:
        >>> task = NumberTask("en-zh")
        >>> encode_sentences(task.build_model(), task.vocabs[0], ["three hundred and five"])[0].tolist()
        [1, 7, 33, 34, 9, 2]
    """
    limit = model.src_embed[1].max_len
    encoded = []
    for i, text in enumerate(texts, start=1):
        ids = source.encode(text)
        if len(ids) == 2:
            raise ValueError(f"texts: sentence {i} is empty; expected at least one word")
        if len(ids) > limit:
            raise ValueError(f"texts: sentence {i} has {len(ids) - 2} tokens; the model reads at most {limit - 2}")
        encoded.append(ids)
    return encoded


def translate(
    model: EncoderDecoder, source: Vocab, target: Vocab, texts: Sequence[str], *, beam_size: int = 1
) -> list[str]:
    """Translate sentences with a trained model and its two vocabularies, in one batch.

    Args:
        model: A trained model; the batch goes to the device of its weights.
        source: Vocabulary of the source language (its size is the model's ``src_vocab``).
        target: Vocabulary of the target language (its size is the model's ``tgt_vocab``).
        texts: Sentences of the source language.
        beam_size: 1 decodes greedily (``greedy_decode``); more searches that many hypotheses per sentence
            (``beam_search``, GNMT's length normalisation with ``alpha = 0.6``) and keeps the best.

    Returns:
        One translation per sentence.

    Raises:
        ValueError: If a sentence is refused by ``encode_sentences`` (an unknown token, no token, too many), or
            ``beam_size`` is below 1.

    Examples:
        >>> task = NumberTask("en-zh")
        >>> translate(task.build_model(), *task.vocabs, ["three hundred and five", "ten"])  # untrained: any tokens
        ... # doctest: +ELLIPSIS
        [...]
    """
    if beam_size < 1:
        raise ValueError(f"beam_size: expected an integer >= 1, got {beam_size}")
    if not texts:
        return []
    device = next(model.parameters()).device
    src = pad_sequence(encode_sentences(model, source, texts), batch_first=True, padding_value=PAD).to(device)
    batch = Batch(src, pad=PAD)
    max_len = min(model.tgt_embed[1].max_len, 2 * src.size(1) + 8)
    model.eval()
    if beam_size == 1:
        out = greedy_decode(model, batch.src, batch.src_mask, max_len, BOS, EOS)
    else:
        out = beam_search(model, batch.src, batch.src_mask, max_len, BOS, EOS, beam_size=beam_size)[0][:, 0]
    return [target.decode(row) for row in out]
