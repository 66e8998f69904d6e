"""The two descendants: a decoder-only language model (GPT) and an encoder-only one (BERT), from the same layers.

Both are a stack of ``EncoderLayer`` (self-attention, then feed-forward) between an embedding and a ``Generator``;
no cross-attention, no second stack. What tells them apart is the mask and the objective:

- **decoder-only** (``make_lm``): the causal mask of the decoder (``target_mask``), so each position sees only
  itself and what lies to its left, and the objective is the next token. It writes text by continuing a prompt
  (``generate``), with the key/value cache of chapter 8.
- **encoder-only** (``make_encoder_lm``): the padding mask of the encoder (``padding_mask``), so each position sees
  both sides, and the objective is to fill in blanked-out tokens (``mask_tokens``, BERT's masked language model).

The data is the number task's, as one sentence: ``"three hundred and five = 三百零五"``, English words and Chinese
characters in one vocabulary (``lm_vocab``). The decoder-only model translates by continuing
``"three hundred and five ="``; the encoder-only one fills in ``"three hundred and five = 三百_五"``.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from transformer._checks import check_mask, check_shape
from transformer.attention import KVCache, MultiHeadedAttention
from transformer.data import EOS, PAD
from transformer.embeddings import Embeddings
from transformer.encoder import Encoder, EncoderLayer
from transformer.layers import PositionwiseFeedForward
from transformer.masks import padding_mask, subsequent_mask, target_mask
from transformer.model import Generator, ModelConfig
from transformer.numbers import DIRECTIONS, NumberTask, number_vocabs
from transformer.positional import PositionalEncoding
from transformer.tasks import Recipe, TrainingState
from transformer.training import StepStats
from transformer.vocab import Vocab

SEPARATOR = "="  # between a number in one language and the same number in the other
BLANK = "_"  # the token that hides what the encoder-only model must fill in (BERT's [MASK])
OBJECTIVES = ("next-token", "masked")


@lru_cache(maxsize=1)
def lm_vocab() -> Vocab:
    """One vocabulary for both languages: the English words, the Chinese characters, ``=`` and the blank ``_``.

    Returns:
        A ``Vocab`` of language ``"en+zh"``: ids 0-3 the special tokens, then the tokens of ``number_vocabs``
        (English, then Chinese), then ``=`` and ``_``.

    Examples:
        >>> vocab = lm_vocab()
        >>> len(vocab), vocab.split("five = 五")
        (55, ['five', '=', '五'])
    """
    english_vocab, chinese_vocab = number_vocabs()
    return Vocab([*english_vocab.tokens[4:], *chinese_vocab.tokens[4:], SEPARATOR, BLANK], "en+zh")


# What a language model shares with an encoder-decoder: every field of ModelConfig but its two vocabularies.
_LAYER_FIELDS = tuple(field.name for field in fields(ModelConfig) if field.name not in ("src_vocab", "tgt_vocab"))


@dataclass(frozen=True)
class LMConfig:
    """The hyper-parameters of a language model: what ``make_lm`` and ``make_encoder_lm`` take and checkpoints store.

    The fields after ``causal`` are ``ModelConfig``'s, checked by it, with a small model's defaults: one vocabulary
    instead of two is the only difference in the layers.

    Attributes:
        vocab: Size of the vocabulary (one, shared by the input and the output).
        causal: ``True`` for a decoder-only model (each position sees its left), ``False`` for encoder-only (both
            sides).
        N: Number of layers.
        d_model: Size of every vector between sub-layers.
        d_ff: Hidden size of the feed-forward networks.
        h: Number of attention heads.
        dropout: Dropout probability everywhere.
        norm_first: Pre-LN (``True``) or post-LN (``False``).
        max_len: Longest sequence the positional encoding accepts.
        tie_weights: Share one matrix between the embedding and the generator (section 3.4 of the paper; GPT-2
            and BERT do).

    Raises:
        TypeError: If a field has the wrong type (checked as ``ModelConfig`` checks it).
        ValueError: If a size is not positive, ``h`` does not divide ``d_model``, or ``dropout`` is not in
            ``[0, 1)``.

    Examples:
        >>> LMConfig(vocab=0)
        Traceback (most recent call last):
        ...
        ValueError: vocab: expected an integer >= 1, got 0
    """

    vocab: int
    causal: bool = True
    N: int = 4
    d_model: int = 128
    d_ff: int = 256
    h: int = 4
    dropout: float = 0.0
    norm_first: bool = True
    max_len: int = 64
    tie_weights: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.vocab, int) or isinstance(self.vocab, bool):
            raise TypeError(f"vocab: expected an integer, got {self.vocab!r} of type {type(self.vocab).__name__}")
        if self.vocab < 1:
            raise ValueError(f"vocab: expected an integer >= 1, got {self.vocab}")
        if not isinstance(self.causal, bool):
            raise TypeError(f"causal: expected True or False, got {self.causal!r}")
        # The other fields are ModelConfig's and mean what they mean in an encoder-decoder: one set of checks.
        ModelConfig(self.vocab, self.vocab, **{name: getattr(self, name) for name in _LAYER_FIELDS})


class LanguageModel(nn.Module):
    """Embeddings, a stack of ``EncoderLayer``, a ``Generator``: GPT with the causal mask, BERT with the padding mask.

    Args:
        embed: ``nn.Sequential(Embeddings, PositionalEncoding)``.
        layers: The stack (an ``Encoder``: self-attention and feed-forward, no cross-attention).
        generator: Log-probabilities over the vocabulary at every position.
        config: The hyper-parameters it was built from; ``config.causal`` says which mask it must be given.

    Shape:
        - ``tokens``: ``(batch, seq_len)`` token ids.
        - ``mask``: ``(batch or 1, seq_len, seq_len)``: ``target_mask(tokens, pad)`` for a causal model,
          ``padding_mask(tokens, pad)`` (``(batch, 1, seq_len)``) for an encoder-only one; ``attention_mask`` picks.
        - Output of ``forward``: ``(batch, seq_len, d_model)``; apply ``generator`` for log-probabilities.
    """

    def __init__(self, embed: nn.Sequential, layers: Encoder, generator: Generator, config: LMConfig) -> None:
        super().__init__()
        self.embed = embed
        self.layers = layers
        self.generator = generator
        self.config = config

    def attention_mask(self, tokens: Tensor, pad: int = PAD) -> Tensor:
        """The mask this model is trained with: causal and padding, or padding alone.

        Args:
            tokens: Token ids, ``(batch, seq_len)``.
            pad: The padding id.

        Returns:
            ``target_mask(tokens, pad)``, ``(batch, seq_len, seq_len)``, for a causal model;
            ``padding_mask(tokens, pad)``, ``(batch, 1, seq_len)``, for an encoder-only one.
        """
        return target_mask(tokens, pad) if self.config.causal else padding_mask(tokens, pad)

    def forward(self, tokens: Tensor, mask: Tensor | None, cache: Sequence[KVCache] | None = None) -> Tensor:
        """Run the stack over ``tokens``.

        Args:
            tokens: Token ids, ``(batch, seq_len)``; with a ``cache``, only the positions not yet seen.
            mask: Boolean, ``True`` where a position may attend, with three dimensions that broadcast to
                ``(batch, seq_len, cached + seq_len)``. A causal model refuses a mask that lets a position see one
                to its right; ``None`` is then allowed for one new position only (it may see everything before it).
            cache: One ``KVCache`` per layer (``new_cache``), updated in place: each call appends the new
                positions' keys and values, and starts their positions after the cached ones.

        Returns:
            ``(batch, seq_len, d_model)``.

        Raises:
            ValueError: If ``tokens`` is not ``(batch, seq_len)``; the mask does not have three dimensions that
                broadcast to the scores, or lets a causal model see the future; a cache is given to an encoder-only
                model or has another number of layers.
            TypeError: If ``mask`` is not boolean.
        """
        check_shape("tokens", tokens, ("batch", "seq_len"))
        batch, seq_len = tokens.shape
        start = 0
        if cache is not None:
            if not self.config.causal:
                raise ValueError("cache: an encoder-only model sees both sides, so no position is ever final")
            if len(cache) != len(self.layers.layers):
                raise ValueError(f"cache: expected one KVCache per layer ({len(self.layers.layers)}), got {len(cache)}")
            start = cache[0].length
        if mask is not None:
            check_mask("mask", mask, (batch, seq_len, start + seq_len), "self-attention scores", exact_rank=True)
            if self.config.causal:
                future = torch.ones(seq_len, start + seq_len, dtype=torch.bool, device=mask.device).triu(start + 1)
                if (mask & future).any():
                    raise ValueError(
                        "mask: lets a position attend to one on its right; a decoder-only model needs the causal "
                        "mask, target_mask(tokens, pad) or model.attention_mask(tokens)"
                    )
        elif self.config.causal and seq_len > 1:
            raise ValueError(
                f"mask: a decoder-only model given {seq_len} positions needs the causal mask, "
                "target_mask(tokens, pad) or model.attention_mask(tokens), got None"
            )
        embed, position = self.embed
        return self.layers(position(embed(tokens), start), mask, cache)  # (batch, seq_len, d_model)

    def new_cache(self) -> list[KVCache]:
        """An empty key/value cache, one ``KVCache`` per layer, for ``forward`` and ``generate``."""
        return [KVCache() for _ in self.layers.layers]


def _build(config: LMConfig) -> LanguageModel:
    """The model of ``config``, Xavier-initialised as ``make_model`` does."""
    c = copy.deepcopy
    attn = MultiHeadedAttention(config.h, config.d_model, config.dropout)
    ff = PositionwiseFeedForward(config.d_model, config.d_ff, config.dropout)
    layer = EncoderLayer(config.d_model, c(attn), c(ff), config.dropout, config.norm_first)
    model = LanguageModel(
        nn.Sequential(
            Embeddings(config.d_model, config.vocab), PositionalEncoding(config.d_model, config.dropout, config.max_len)
        ),
        Encoder(layer, config.N),
        Generator(config.d_model, config.vocab),
        config,
    )
    if config.tie_weights:
        model.generator.proj.weight = model.embed[0].lut.weight  # (vocab, d_model) both
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    return model


def make_lm(
    vocab: int,
    N: int = 4,  # noqa: N803 (the paper's name)
    d_model: int = 128,
    d_ff: int = 256,
    h: int = 4,
    dropout: float = 0.0,
    norm_first: bool = True,
    max_len: int = 64,
    tie_weights: bool = False,
) -> LanguageModel:
    """A decoder-only language model (GPT): ``N`` self-attention layers under the causal mask, no encoder.

    Each layer is an ``EncoderLayer`` (self-attention and feed-forward): a ``DecoderLayer`` without its source
    attention, since there is no memory to attend to. The causal mask makes it a decoder.

    Args:
        vocab: Size of the vocabulary.
        N: Number of layers.
        d_model: Size of every vector between sub-layers.
        d_ff: Hidden size of the feed-forward networks.
        h: Number of attention heads; must divide ``d_model``.
        dropout: Dropout probability everywhere.
        norm_first: Pre-LN (``True``, as GPT-2) or post-LN (``False``).
        max_len: Longest sequence, prompt and continuation together.
        tie_weights: Share the embedding matrix with the generator.

    Returns:
        The model, ``config.causal`` ``True``.

    Raises:
        TypeError: If an argument has the wrong type (see ``LMConfig``).
        ValueError: If a size is not positive, ``d_model`` is not divisible by ``h``, or ``dropout`` is not in
            ``[0, 1)``.

    Examples:
        >>> model = make_lm(vocab=55, N=2, d_model=32, d_ff=64, h=4).eval()
        >>> tokens = torch.tensor([[1, 7, 8, 53]])
        >>> model(tokens, model.attention_mask(tokens)).shape
        torch.Size([1, 4, 32])
    """
    return _build(LMConfig(vocab, True, N, d_model, d_ff, h, dropout, norm_first, max_len, tie_weights))


def make_encoder_lm(
    vocab: int,
    N: int = 4,  # noqa: N803 (the paper's name)
    d_model: int = 128,
    d_ff: int = 256,
    h: int = 4,
    dropout: float = 0.0,
    norm_first: bool = True,
    max_len: int = 64,
    tie_weights: bool = False,
) -> LanguageModel:
    """An encoder-only language model (BERT): the encoder of chapter 6 with a generator on top.

    Trained to fill in blanks (``mask_tokens``): each position sees both sides, so its output vector is a
    contextual vector of its token, the encoder's memory of chapter 6.

    Args:
        vocab: Size of the vocabulary.
        N: Number of layers.
        d_model: Size of every vector between sub-layers.
        d_ff: Hidden size of the feed-forward networks.
        h: Number of attention heads; must divide ``d_model``.
        dropout: Dropout probability everywhere.
        norm_first: Pre-LN (``True``) or post-LN (``False``, as BERT).
        max_len: Longest sequence.
        tie_weights: Share the embedding matrix with the generator.

    Returns:
        The model, ``config.causal`` ``False``.

    Raises:
        TypeError: If an argument has the wrong type (see ``LMConfig``).
        ValueError: If a size is not positive, ``d_model`` is not divisible by ``h``, or ``dropout`` is not in
            ``[0, 1)``.

    Examples:
        >>> model = make_encoder_lm(vocab=55, N=2, d_model=32, d_ff=64, h=4)
        >>> tokens = torch.tensor([[1, 7, 54, 2]])
        >>> model.attention_mask(tokens).shape, model(tokens, model.attention_mask(tokens)).shape
        (torch.Size([1, 1, 4]), torch.Size([1, 4, 32]))
    """
    return _build(LMConfig(vocab, False, N, d_model, d_ff, h, dropout, norm_first, max_len, tie_weights))


def sampling_probs(
    log_probs: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    r"""The distribution ``generate`` draws the next token from: temperature, then top-k, then top-p.

    - **temperature** $T$: $p_i \propto \exp(\log p_i / T)$. Below 1 it sharpens the distribution, above 1 it
      flattens it; $T = 0$ puts all the mass on the most likely token (greedy).
    - **top-k**: only the ``top_k`` most likely tokens keep their mass.
    - **top-p** (nucleus sampling, Holtzman et al., 2020): only the smallest set of most likely tokens whose mass
      reaches ``top_p``.

    What is left is renormalised to sum to 1.

    Args:
        log_probs: Log-probabilities of the next token, ``(batch, vocab)``.
        temperature: ``>= 0``.
        top_k: Tokens kept, ``>= 1``; ``None`` keeps all.
        top_p: Mass kept, in ``(0, 1]``; ``None`` keeps all.

    Returns:
        Probabilities, ``(batch, vocab)``, each row summing to 1.

    Raises:
        ValueError: If ``log_probs`` is not 2-D, or ``temperature``, ``top_k`` or ``top_p`` is out of range.

    Examples:
        >>> log_probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
        >>> sampling_probs(log_probs, top_p=0.7)
        tensor([[0.6250, 0.3750, 0.0000, 0.0000]])
        >>> sampling_probs(log_probs, temperature=0)
        tensor([[1., 0., 0., 0.]])
    """
    _check_sampling(temperature, top_k, top_p)
    check_shape("log_probs", log_probs, ("batch", "vocab"))
    if temperature == 0:
        return torch.zeros_like(log_probs).scatter_(1, log_probs.argmax(dim=1, keepdim=True), 1.0)
    logits = log_probs / temperature
    if top_k is not None and top_k < logits.size(1):
        kth = logits.topk(top_k, dim=1).values[:, -1:]  # (batch, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(dim=1)
    if top_p is not None:
        sorted_probs, order = probs.sort(dim=1, descending=True)
        before = sorted_probs.cumsum(dim=1) - sorted_probs  # mass of the more likely tokens
        keep = torch.zeros_like(probs, dtype=torch.bool).scatter_(1, order, before < top_p)  # the first always
        probs = probs.masked_fill(~keep, 0.0)
        probs = probs / probs.sum(dim=1, keepdim=True)
    return probs


def _check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature: expected a finite number >= 0 (0: greedy), got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"top_k: expected an integer >= 1 or None, got {top_k!r}")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"top_p: expected a number in (0, 1] or None, got {top_p!r}")


@torch.no_grad()
def generate(
    model: LanguageModel,
    prompt: Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    end_symbol: int | None = None,
    *,
    generator: torch.Generator | None = None,
    pad: int = PAD,
    use_cache: bool = True,
) -> Tensor:
    """Continue every row of ``prompt`` by sampling one token at a time from a decoder-only model.

    The first step runs the whole prompt and caches its keys and values; every later step feeds one token
    (``use_cache``). Without the cache, each step runs the model over everything so far; both give the same
    tokens. ``temperature = 0`` is greedy decoding: the most likely token every time, no randomness. Put the model
    in ``eval()`` mode first, or dropout makes the output random.

    Args:
        model: A decoder-only model (``make_lm``).
        prompt: Token ids, ``(batch, prompt_len)``, ``prompt_len >= 1``, no padding: every row the same length
            (group prompts by length to batch them).
        max_new_tokens: Tokens to add, ``>= 0``; ``prompt_len + max_new_tokens`` at most the model's ``max_len``.
        temperature: See ``sampling_probs``.
        top_k: See ``sampling_probs``.
        top_p: See ``sampling_probs``.
        end_symbol: A row that produces it is finished and padded from then on; generation stops when every row
            has finished. ``None``: always add ``max_new_tokens``.
        generator: The random number generator samples are drawn with (on the model's device); the same seed gives
            the same samples. ``None``: torch's global one.
        pad: Id written after a row's end symbol.
        use_cache: Reuse cached keys and values (fast) or recompute everything at every step.

    Returns:
        ``(batch, prompt_len + new)`` token ids, the prompt first, ``new <= max_new_tokens``.

    Raises:
        ValueError: If ``model`` is not causal, ``prompt`` is not ``(batch, prompt_len >= 1)``, ``max_new_tokens``
            is negative or runs past the positional table, a symbol is not an id of the vocabulary, or a sampling
            argument is out of range (see ``sampling_probs``).

    Warns:
        UserWarning: If ``model`` is in training mode.

    Examples:
        >>> model = make_lm(vocab=55, N=1, d_model=16, d_ff=32, h=2).eval()
        >>> out = generate(model, torch.tensor([[1, 9, 53]]), 5, temperature=0)
        >>> out.shape
        torch.Size([1, 8])
    """
    if not model.config.causal:
        raise ValueError("model: an encoder-only model sees both sides and cannot continue a prompt; use make_lm")
    _check_sampling(temperature, top_k, top_p)
    check_shape("prompt", prompt, ("batch", "prompt_len"))
    if prompt.size(1) < 1:
        raise ValueError("prompt: expected at least one token per row (a start symbol), got shape (batch, 0)")
    max_len = model.config.max_len
    if not 0 <= max_new_tokens <= max_len - prompt.size(1):
        raise ValueError(
            f"max_new_tokens: expected 0 .. {max_len - prompt.size(1)} (the positional table has {max_len} positions, "
            f"the prompt {prompt.size(1)}), got {max_new_tokens}"
        )
    for name, symbol in (("end_symbol", end_symbol), ("pad", pad)):
        if symbol is not None and not 0 <= symbol < model.config.vocab:
            raise ValueError(f"{name}: expected an id of the vocabulary (0 .. {model.config.vocab - 1}), got {symbol}")
    if model.training:
        warnings.warn(
            "generate: the model is in training mode, so dropout makes its output random; call model.eval()",
            stacklevel=3,  # the caller of the no_grad wrapper
        )

    tokens = prompt
    finished = torch.zeros(prompt.size(0), dtype=torch.bool, device=prompt.device)
    cache = model.new_cache() if use_cache else None
    new = prompt  # what the next step feeds: the whole prompt, then one token at a time
    for _ in range(max_new_tokens):
        if end_symbol is not None and finished.all():
            break
        if cache is not None:
            mask = subsequent_mask(new.size(1)).to(prompt.device) if cache[0].length == 0 else None
            out = model(new, mask, cache)  # (batch, new_len, d_model)
        else:
            out = model(tokens, subsequent_mask(tokens.size(1)).to(prompt.device))  # (batch, len, d_model)
        log_probs = model.generator(out[:, -1])  # (batch, vocab)
        if temperature == 0:
            next_token = log_probs.argmax(dim=-1)  # (batch,)
        else:
            probs = sampling_probs(log_probs, temperature, top_k, top_p)
            next_token = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (batch,)
        if end_symbol is not None:
            next_token = next_token.masked_fill(finished, pad)
            finished |= next_token == end_symbol
        new = next_token.unsqueeze(1).to(tokens.dtype)  # (batch, 1)
        tokens = torch.cat([tokens, new], dim=1)
    return tokens


def mask_tokens(
    tokens: Tensor, blank: int, fraction: float = 0.15, *, generator: torch.Generator | None = None, pad: int = PAD
) -> tuple[Tensor, Tensor]:
    """Hide a fraction of the ordinary tokens behind ``blank``: the input and the targets of BERT's objective.

    Every row gets at least one blank; special tokens (ids below 4: padding, start, end, unknown) and
    ``lm_vocab``'s ``=`` are never hidden. (BERT also leaves some chosen tokens as they are or swaps them for
    random ones, so that the model cannot rely on ``_`` appearing at test time; here the test is to fill blanks,
    so every chosen token becomes one.)

    Args:
        tokens: Token ids, ``(batch, seq_len)``.
        blank: The id that replaces a hidden token.
        fraction: Probability that an ordinary token is hidden, in ``(0, 1]``.
        generator: Random number generator of the choice (on the CPU).
        pad: Id of the targets the loss ignores.

    Returns:
        ``(inputs, targets)``, both ``(batch, seq_len)``: ``inputs`` with ``blank`` at the hidden positions;
        ``targets`` with the hidden tokens there and ``pad`` everywhere else.

    Raises:
        ValueError: If ``tokens`` is not 2-D or ``fraction`` is not in ``(0, 1]``.

    Examples:
        >>> vocab = lm_vocab()
        >>> g = torch.Generator().manual_seed(0)
        >>> inputs, targets = mask_tokens(vocab.encode("five = 五").unsqueeze(0), vocab.tokens.index("_"), generator=g)
        >>> vocab.decode(inputs[0]), targets.tolist()
        ('five = _', [[0, 0, 0, 43, 0]])
    """
    check_shape("tokens", tokens, ("batch", "seq_len"))
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction: expected a number in (0, 1], got {fraction}")
    separator = lm_vocab().tokens.index(SEPARATOR)
    ordinary = (tokens >= 4) & (tokens != separator) & (tokens != blank)  # (batch, seq_len)
    draw = torch.rand(tokens.shape, generator=generator).to(tokens.device)
    hidden = ordinary & (draw < fraction)
    # A row with no blank would teach nothing: hide its ordinary token of the smallest draw.
    none = ~hidden.any(dim=1, keepdim=True) & ordinary.any(dim=1, keepdim=True)  # (batch, 1)
    first = draw.masked_fill(~ordinary, 2.0).argmin(dim=1, keepdim=True)  # (batch, 1)
    hidden |= none & torch.zeros_like(hidden).scatter_(1, first, True)
    return tokens.masked_fill(hidden, blank), tokens.masked_fill(~hidden, pad)


def prompt_of(text: str, vocab: Vocab) -> Tensor:
    """The ids of ``text`` followed by ``=``, without the end symbol: what the model continues.

    Args:
        text: A number in the source language, e.g. ``"three hundred and five"``.
        vocab: ``lm_vocab()``.

    Returns:
        Ids, ``(n_tokens + 2,)``: the start symbol, the tokens, ``=``.

    Raises:
        ValueError: If ``text`` holds a token ``vocab`` does not.
    """
    return vocab.encode(f"{text} {SEPARATOR}")[:-1]


def complete(
    model: LanguageModel,
    vocab: Vocab,
    texts: Sequence[str],
    max_new_tokens: int | None = None,
    **sampling: float | int | torch.Generator | None,
) -> list[str]:
    """Continue ``"<text> ="`` for every text with a decoder-only model: the translation, when it has learnt one.

    Prompts of the same length run as one batch (``generate`` takes no padding inside a prompt).

    Args:
        model: A trained decoder-only model; the batches go to the device of its weights.
        vocab: ``lm_vocab()`` (its size is the model's ``vocab``).
        texts: Numbers in the source language.
        max_new_tokens: Longest continuation; ``None``: up to the end of the positional table.
        **sampling: ``temperature``, ``top_k``, ``top_p``, ``generator`` for ``generate``; the default is greedy
            (``temperature=0``).

    Returns:
        One continuation per text, up to the end symbol.

    Raises:
        ValueError: If a text holds a token ``vocab`` does not.
    """
    sampling = {"temperature": 0} | sampling
    device = next(model.parameters()).device
    prompts = [prompt_of(text, vocab) for text in texts]
    out: list[str] = [""] * len(texts)
    model.eval()
    for length in sorted({len(p) for p in prompts}):
        rows = [i for i, p in enumerate(prompts) if len(p) == length]
        batch = torch.stack([prompts[i] for i in rows]).to(device)  # (rows, length)
        room = model.config.max_len - length
        new = room if max_new_tokens is None else min(max_new_tokens, room)
        tokens = generate(model, batch, new, end_symbol=EOS, **sampling)
        for i, row in zip(rows, tokens[:, length:], strict=True):
            out[i] = vocab.decode(row)
    return out


@dataclass(frozen=True)
class NumberLMTask(Recipe):
    """The number task for a language model, and a recipe that learns it.

    Each training row is one sentence, ``"<source> = <target>"`` (``"three hundred and five = 三百零五"`` for
    ``en-zh``), of the training split (``split_of``), every magnitude equally likely. With the ``next-token``
    objective, a decoder-only model learns to continue it, and the loss counts only the tokens after ``=``: the
    source is given at test time, so predicting it would spend the model's effort on guessing which random number
    comes next, which no model can do better than chance. With the ``masked`` objective, an encoder-only model
    learns to fill in blanks (``mask_tokens``) on either side of ``=``: the other language says what a blank was.

    Attributes:
        direction: Which side comes first: ``en-zh`` (English, then Chinese) or ``zh-en``.
        objective: ``next-token`` (decoder-only, ``make_lm``) or ``masked`` (encoder-only, ``make_encoder_lm``).
        masked_fraction: Fraction of the tokens the masked objective hides.

    The other fields are the recipe's, documented with ``Recipe``; here ``batch_size`` counts sentences and ``N``
    the layers of the one stack.

    Examples:
        >>> NumberLMTask().text(305)
        'three hundred and five = 三百零五'
    """

    direction: str = "en-zh"
    objective: str = "next-token"
    steps: int = 800  # NumberTask's recipe
    batch_size: int = 128
    warmup: int = 200
    factor: float = 1.0
    cooldown: float = 0.5
    N: int = 2
    d_model: int = 128
    d_ff: int = 256
    h: int = 4
    dropout: float = 0.0
    masked_fraction: float = 0.15
    seed: int = 0

    max_len = 64  # the longest sentence (8 digits, both languages) has 45 tokens

    def __post_init__(self) -> None:
        """Check the recipe (``Recipe.check_recipe``), the direction, the objective and the masked fraction.

        Raises:
            ValueError: If ``direction`` or ``objective`` is not one of its choices, ``masked_fraction`` is outside
                ``(0, 1]``, or a field of the recipe is out of range.
        """
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction: expected one of {DIRECTIONS}, got {self.direction!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective: expected one of {OBJECTIVES}, got {self.objective!r}")
        if not 0 < self.masked_fraction <= 1:
            raise ValueError(f"masked_fraction: expected a number > 0 and <= 1, got {self.masked_fraction}")
        self.check_recipe()

    @property
    def vocabs(self) -> tuple[Vocab, Vocab]:
        """``(lm_vocab(), lm_vocab())``: one vocabulary, read and written, as a checkpoint stores it."""
        return lm_vocab(), lm_vocab()

    @property
    def numbers(self) -> NumberTask:
        """The translation task of the same direction: its splits, held-out numbers and references."""
        return NumberTask(self.direction)

    def text(self, n: int) -> str:
        """``n`` as one sentence, ``"<source> = <target>"``."""
        return f"{self.numbers.source_text(n)} {SEPARATOR} {self.numbers.target_text(n)}"

    def build_model(self) -> LanguageModel:
        """A fresh model for this task (decoder-only or encoder-only, by ``objective``), initialised from ``seed``."""
        torch.manual_seed(self.seed)
        build = make_lm if self.objective == "next-token" else make_encoder_lm
        return build(len(lm_vocab()), self.N, self.d_model, self.d_ff, self.h, self.dropout, max_len=self.max_len)

    def batch(
        self, numbers: Sequence[int], generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]:
        """The numbers as model inputs and targets, ``(batch, seq_len)`` each, padded with ``PAD``.

        Args:
            numbers: Integers ``>= 0``.
            generator: Draws the blanks of the masked objective.
            device: Where the tensors go (``None``: the CPU).

        Returns:
            ``(inputs, targets)``. Next-token: the sentence without its last token, and the sentence shifted by
            one with ``PAD`` at every position up to ``=`` (those predictions are not trained). Masked: the
            sentence with blanks, and the hidden tokens (``PAD`` elsewhere).

        Examples:
            >>> inputs, targets = NumberLMTask().batch([5])
            >>> lm_vocab().decode(inputs[0]), targets.tolist()
            ('five = 五', [[0, 0, 43, 2]])
        """
        vocab = lm_vocab()
        tokens = pad_sequence([vocab.encode(self.text(n)) for n in numbers], batch_first=True, padding_value=PAD)
        if self.objective == "masked":
            inputs, targets = mask_tokens(tokens, vocab.tokens.index(BLANK), self.masked_fraction, generator=generator)
            return inputs.to(device), targets.to(device)
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        after = (inputs == vocab.tokens.index(SEPARATOR)).cumsum(dim=1) > 0  # (batch, seq_len - 1): at or after "="
        return inputs.to(device), targets.masked_fill(~after, PAD).to(device)

    def train(
        self,
        model: nn.Module,
        rank: int = 0,
        world_size: int = 1,
        *,
        state: TrainingState | None = None,
        autocast: torch.dtype | None = None,
    ) -> Iterator[StepStats]:
        """Train ``model`` up to ``steps``, yielding after every step (``Recipe.train``, with a language model's loss).

        Args:
            model: The model (possibly wrapped in ``DistributedDataParallel``), on the device to train on.
            rank: This process's rank: each process draws its own numbers.
            world_size: Number of processes; each takes ``batch_size // world_size`` sentences per step.
            state: Where to continue from; ``None`` starts afresh. Its ``step`` is kept up to date.
            autocast: Run the forward pass under ``torch.autocast`` with this dtype (``torch.bfloat16``).
        """
        state = state if state is not None else self.start(model, rank)
        criterion = nn.NLLLoss(reduction="sum", ignore_index=PAD)
        device = next(model.parameters()).device
        inner = getattr(model, "module", model)  # the generator and the mask of a DDP-wrapped model
        model.train()
        while state.step < self.steps:
            numbers = self.numbers.training_numbers(self.batch_size // world_size, state.generator)
            inputs, targets = self.batch(numbers, state.generator, device)
            lr = state.optimizer.param_groups[0]["lr"]
            with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                log_probs = inner.generator(model(inputs, inner.attention_mask(inputs)))  # (batch, len, vocab)
                ntokens = int((targets != PAD).sum())
                loss = criterion(log_probs.reshape(-1, log_probs.size(-1)), targets.reshape(-1)) / ntokens
            loss.backward()
            state.optimizer.step()
            state.optimizer.zero_grad(set_to_none=True)
            state.scheduler.step()
            state.step += 1
            yield StepStats(state.step, loss.item(), ntokens, lr)

    def held_out(self, n: int = 2000, split: str = "test", seed: int = 12345, world_size: int = 1) -> list[int]:
        """The translation task's held-out numbers (``NumberTask.held_out``)."""
        return self.numbers.held_out(n, split, seed, world_size)

    def exact_match(
        self, model: LanguageModel, n: int = 2000, seed: int = 12345, world_size: int = 1, *, split: str = "test"
    ) -> float:
        """Next-token: fraction of ``n`` held-out numbers whose greedy continuation is exactly the translation.
        Masked: fraction of them whose blanks (drawn with ``seed``) are all filled in correctly.

        Args:
            model: A trained model of this task's objective.
            n: Number of held-out numbers.
            seed: Seed of the held-out numbers (and of the blanks).
            world_size: Accepted for the command line, as ``NumberTask.exact_match``.
            split: ``"test"`` or ``"validation"``.

        Returns:
            A number between 0 and 1.
        """
        numbers = self.held_out(n, split, seed, world_size)
        if self.objective == "next-token":
            sources = [self.numbers.source_text(k) for k in numbers]
            outputs = complete(model, lm_vocab(), sources)
            hits = sum(out == self.numbers.target_text(k) for out, k in zip(outputs, numbers, strict=True))
            return round(hits / len(numbers), 4)
        device = next(model.parameters()).device
        inputs, targets = self.batch(numbers, torch.Generator().manual_seed(seed), device)
        model.eval()
        with torch.no_grad():
            guess = model.generator(model(inputs, model.attention_mask(inputs))).argmax(dim=-1)  # (batch, len)
        hidden = targets != PAD
        right = ((guess == targets) | ~hidden).all(dim=1)  # (batch,)
        return round(right.float().mean().item(), 4)
