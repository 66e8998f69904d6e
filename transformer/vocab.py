"""A vocabulary: text to token ids and back, English split into words, Chinese into characters.

The model reads and writes ids; ``Vocab`` is the table between them and the tokens a person reads. Its first
four ids are the special tokens, the same in every vocabulary: ``PAD`` (0), ``BOS`` (1) and ``EOS`` (2), as in
``transformer.data``, and ``UNK`` (3) for a token the table does not hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from transformer.data import BOS, EOS, PAD

UNK = 3
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")  # at ids PAD, BOS, EOS, UNK
LANGUAGES = ("en", "zh", "en+zh")
# English: a run of letters, or one sign that is neither a letter nor a space ("forty-five" is three tokens,
# "thousand," two). Anything else that is not a space is a token of its own, so an unknown sign is reported,
# not dropped.
_ENGLISH_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")
_GLUED_TO_PREVIOUS = {",", "-"}  # written without a space before them
# Both languages in one sentence (a language model's "three hundred and five = 三百零五"): a Chinese character is a
# token of its own, a run of other letters an English word.
_HAN = "\u3400-\u9fff"
_MIXED_TOKEN = re.compile(f"[{_HAN}]|[^\\W\\d_{_HAN}]+|\\d+|[^\\w\\s]|_")


class Vocab:
    """The tokens of one language, each with an id; splits text into tokens and joins tokens into text.

    English is lower-cased and split into words and punctuation (``"forty-five thousand,"`` is ``forty``, ``-``,
    ``five``, ``thousand``, ``,``); Chinese is split into characters (``"三百零五"`` is ``三``, ``百``, ``零``,
    ``五``). ``"en+zh"`` holds both, for a language model that reads ``"five = 五"``: Chinese characters one by one,
    the rest as English. Spaces separate tokens and are not tokens. ``decode`` writes the text back: English tokens
    with a space between them, none before a comma or around a hyphen; Chinese ones with nothing between them.

    Args:
        tokens: The ordinary tokens, in the order of their ids (the first gets id 4, after the special tokens).
        language: ``"en"``, ``"zh"`` or ``"en+zh"``: how text is split and joined.

    Attributes:
        language: As given.
        tokens: Every token, the special ones first: ``tokens[i]`` is the token of id ``i``.

    Raises:
        ValueError: If ``language`` is not ``"en"``, ``"zh"`` or ``"en+zh"``, a token is repeated, is a special
            token, or is not a single token of the language (empty, with a space, or, in Chinese, longer than a
            character).

    Examples:
        >>> vocab = Vocab(["three", "hundred", "and", "five"], language="en")
        >>> ids = vocab.encode("Three hundred and five")
        >>> ids.tolist()
        [1, 4, 5, 6, 7, 2]
        >>> vocab.decode(ids)
        'three hundred and five'
    """

    def __init__(self, tokens: Iterable[str], language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language: expected one of {LANGUAGES}, got {language!r}")
        self.language = language
        self.tokens = [*SPECIALS, *tokens]
        self._ids = {}
        for i, token in enumerate(self.tokens):
            if token in self._ids:
                raise ValueError(f"tokens: {token!r} appears twice (or is a special token: {SPECIALS})")
            if i >= len(SPECIALS) and self.split(token) != [token]:
                raise ValueError(f"tokens: {token!r} is not one {language} token (it splits into {self.split(token)})")
            self._ids[token] = i

    def __len__(self) -> int:
        """Number of ids, the special ones included: the model's ``src_vocab`` or ``tgt_vocab``."""
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and (self.language, self.tokens) == (other.language, other.tokens)

    def __repr__(self) -> str:
        return f"Vocab({self.tokens[len(SPECIALS) :]!r}, language={self.language!r})"

    @classmethod
    def build(cls, texts: Iterable[str], language: str) -> Vocab:
        """A vocabulary of every token of ``texts``, in the order they first appear.

        Args:
            texts: Sentences of the language.
            language: ``"en"``, ``"zh"`` or ``"en+zh"``.

        Returns:
            The vocabulary.

        Examples:
            >>> Vocab.build(["三百零五", "五百"], "zh").tokens[4:]
            ['三', '百', '零', '五']
        """
        probe = cls([], language)
        seen: dict[str, None] = {}
        for text in texts:
            seen.update(dict.fromkeys(probe.split(text)))
        return cls(seen, language)

    def split(self, text: str) -> list[str]:
        """The tokens of ``text`` (lower-cased English words and signs, or Chinese characters), spaces dropped."""
        if self.language == "en":
            return _ENGLISH_TOKEN.findall(text.lower())
        if self.language == "en+zh":
            return _MIXED_TOKEN.findall(text.lower())
        return [character for character in text if not character.isspace()]

    def encode(self, text: str, *, unknown: bool = False) -> Tensor:
        """The ids of ``text``'s tokens, between ``BOS`` and ``EOS``.

        Args:
            text: A sentence of the vocabulary's language.
            unknown: Map a token the vocabulary does not hold to ``UNK``; ``False`` raises instead.

        Returns:
            Ids, shape ``(n_tokens + 2,)``, ``torch.long``.

        Raises:
            ValueError: If ``text`` holds a token the vocabulary does not (and ``unknown`` is ``False``).
        """
        tokens = self.split(text)
        if not unknown:
            missing = [token for token in tokens if token not in self._ids]
            if missing:
                known = " ".join(self.tokens[len(SPECIALS) :])
                raise ValueError(
                    f"text: {missing[0]!r} in {text!r} is not in the {self.language} vocabulary "
                    f"(expected one of: {known})"
                )
        ids = [self._ids.get(token, UNK) for token in tokens]
        return torch.tensor([BOS, *ids, EOS], dtype=torch.long)

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """The text of ``ids``: tokens up to the first ``EOS``, with ``PAD`` and ``BOS`` left out.

        Args:
            ids: Token ids, shape ``(n,)``, e.g. a row of ``greedy_decode``'s output.

        Returns:
            The sentence; ``UNK`` is written ``<unk>``.

        Raises:
            ValueError: If an id is not one of the vocabulary's.
        """
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        tokens = []
        for i in ids:
            if not 0 <= i < len(self):
                raise ValueError(f"ids: expected ids in 0 .. {len(self) - 1}, got {i}")
            if i == EOS:
                break
            if i not in (PAD, BOS):
                tokens.append(self.tokens[i])
        if self.language == "zh":
            return "".join(tokens)
        text = ""
        for previous, token in zip([None, *tokens], tokens, strict=False):
            glued = previous is None or token in _GLUED_TO_PREVIOUS or previous == "-"
            glued |= self.language == "en+zh" and _is_han(previous) and _is_han(token)
            text += token if glued else " " + token
        return text

    def to_json(self) -> dict:
        """``{"language": ..., "tokens": [...]}`` (the ordinary tokens): what a checkpoint stores."""
        return {"language": self.language, "tokens": self.tokens[len(SPECIALS) :]}

    @classmethod
    def from_json(cls, data: object) -> Vocab:
        """The vocabulary ``to_json`` describes.

        Raises:
            ValueError: If ``data`` is not such a description, or describes an invalid vocabulary.
        """
        if not isinstance(data, dict) or sorted(data) != ["language", "tokens"]:
            raise ValueError(f"expected {{'language': ..., 'tokens': [...]}}, got {data!r:.200}")
        tokens = data["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
            raise ValueError(f"tokens: expected a list of strings, got {tokens!r:.200}")
        return cls(tokens, data["language"])


def _is_han(token: str | None) -> bool:
    """Whether ``token`` is one Chinese character."""
    return token is not None and len(token) == 1 and "\u3400" <= token <= "\u9fff"
