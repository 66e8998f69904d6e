"""The full encoder-decoder model and ``make_model``, which builds it from a few hyper-parameters."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import Tensor, nn

from transformer._checks import check_mask, check_same_size, check_shape
from transformer.attention import MultiHeadedAttention
from transformer.decoder import Decoder, DecoderCache, DecoderLayer
from transformer.embeddings import Embeddings
from transformer.encoder import Encoder, EncoderLayer
from transformer.layers import PositionwiseFeedForward
from transformer.positional import PositionalEncoding


class Generator(nn.Module):
    """The last step: a linear map to the target vocabulary, then log-softmax.

    Args:
        d_model: Size of the decoder's output vectors.
        vocab: Size of the target vocabulary.

    Shape:
        - Input: ``(batch, tgt_len, d_model)``.
        - Output: ``(batch, tgt_len, vocab)``, log-probabilities.
    """

    def __init__(self, d_model: int, vocab: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, vocab)
        self.d_model = d_model

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities of the next token at every position.

        Raises:
            ValueError: If the last dimension of ``x`` is not ``d_model``.
        """
        if x.dim() == 0 or x.size(-1) != self.d_model:
            raise ValueError(f"x: expected shape (..., d_model={self.d_model}), got {tuple(x.shape)}")
        return self.proj(x).log_softmax(dim=-1)


@dataclass(frozen=True)
class ModelConfig:
    """The hyper-parameters of a model: what ``make_model`` takes and what a checkpoint stores.

    Attributes:
        src_vocab: Size of the source vocabulary.
        tgt_vocab: Size of the target vocabulary.
        N: Number of layers in the encoder and in the decoder.
        d_model: Size of every vector between sub-layers.
        d_ff: Hidden size of the feed-forward networks.
        h: Number of attention heads.
        dropout: Dropout probability everywhere.
        norm_first: Pre-LN (``True``) or post-LN (``False``).
        max_len: Longest sequence the positional encoding accepts.
        tie_weights: Share one matrix between the target embedding and the generator (and the source embedding,
            when the two vocabularies have the same size), as section 3.4 of the paper does.

    Raises:
        TypeError: If a field has the wrong type (``N="6"``, ``dropout=None``, ``norm_first=1``).
        ValueError: If a size is not positive, ``h`` does not divide ``d_model``, or ``dropout`` is not in
            ``[0, 1)``.

    Examples:
        >>> ModelConfig(11, 11, h=0)
        Traceback (most recent call last):
        ...
        ValueError: h: expected an integer >= 1, got 0
    """

    src_vocab: int
    tgt_vocab: int
    N: int = 6
    d_model: int = 512
    d_ff: int = 2048
    h: int = 8
    dropout: float = 0.1
    norm_first: bool = True
    max_len: int = 5000
    tie_weights: bool = False

    def __post_init__(self) -> None:
        for name in ("src_vocab", "tgt_vocab", "N", "d_model", "d_ff", "h", "max_len"):
            value = getattr(self, name)
            # bool is an int in Python, but N=True is a mistake, not one layer.
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name}: expected an integer, got {value!r} of type {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value}")
        if self.d_model % self.h:
            raise ValueError(f"d_model={self.d_model} must be divisible by the number of heads h={self.h}")
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool):
            raise TypeError(f"dropout: expected a number, got {self.dropout!r} of type {type(self.dropout).__name__}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {self.dropout}")
        for name in ("norm_first", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name}: expected True or False, got {getattr(self, name)!r}")


class EncoderDecoder(nn.Module):
    """The standard encoder-decoder architecture.

    Args:
        encoder: Turns the embedded source into the memory.
        decoder: Reads the memory and the embedded target.
        src_embed: ``nn.Sequential(Embeddings, PositionalEncoding)`` for the source.
        tgt_embed: ``nn.Sequential(Embeddings, PositionalEncoding)`` for the target.
        generator: Maps the decoder's output to log-probabilities over the target vocabulary.
        config: The hyper-parameters the model was built from (set by ``make_model``); needed by ``save_model``.

    Shape:
        - ``src``: ``(batch, src_len)`` token ids; ``src_mask``: ``(batch, 1, src_len)``.
        - ``tgt``: ``(batch, tgt_len)`` token ids; ``tgt_mask``: ``(batch, tgt_len, tgt_len)``.
        - Output of ``forward``: ``(batch, tgt_len, d_model)``; apply ``generator`` for log-probabilities.
    """

    def __init__(
        self,
        encoder: Encoder,
        decoder: Decoder,
        src_embed: nn.Sequential,
        tgt_embed: nn.Sequential,
        generator: Generator,
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.src_embed = src_embed
        self.tgt_embed = tgt_embed
        self.generator = generator
        self.config = config

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None, tgt_mask: Tensor | None) -> Tensor:
        """Encode the source, then decode the target against it.

        Raises:
            ValueError: If ``src`` and ``tgt`` are not ``(batch, len)`` or have different batch sizes.
        """
        check_shape("src", src, ("batch", "src_len"))
        check_shape("tgt", tgt, ("batch", "tgt_len"))
        check_same_size("src", src.size(0), "tgt", tgt.size(0), "batch size")
        return self.decode(self.encode(src, src_mask), src_mask, tgt, tgt_mask)

    def encode(self, src: Tensor, src_mask: Tensor | None) -> Tensor:
        """Read the source into memory.

        Args:
            src: Token ids, ``(batch, src_len)``.
            src_mask: ``(batch, 1, src_len)``, ``True`` at real tokens.

        Returns:
            The memory, ``(batch, src_len, d_model)``.

        Raises:
            ValueError: If ``src`` is not ``(batch, src_len)`` or ``src_mask`` does not have three dimensions
                that broadcast to ``(batch, src_len, src_len)``.
            TypeError: If ``src_mask`` is not boolean.
        """
        check_shape("src", src, ("batch", "src_len"))
        if src_mask is not None:
            batch, src_len = src.shape
            check_mask("src_mask", src_mask, (batch, src_len, src_len), "encoder scores", exact_rank=True)
        return self.encoder(self.src_embed(src), src_mask)

    def decode(
        self,
        memory: Tensor,
        src_mask: Tensor | None,
        tgt: Tensor,
        tgt_mask: Tensor | None,
        cache: DecoderCache | None = None,
    ) -> Tensor:
        """Decode the target against the memory.

        Args:
            memory: ``(batch, src_len, d_model)``, from ``encode``.
            src_mask: ``(batch, 1, src_len)``.
            tgt: Token ids, ``(batch, tgt_len)``; with a ``cache``, only the tokens not yet decoded.
            tgt_mask: ``(batch, tgt_len, tgt_len)``; with a cache, ``(batch, new_len, cache.length + new_len)``
                or ``None`` when every cached and new position may be seen.
            cache: Keys and values of the earlier positions (see ``DecoderCache``); updated in place.

        Returns:
            ``(batch, tgt_len, d_model)``: the decoder's output at each (new) target position.

        Raises:
            ValueError: If ``tgt`` is not ``(batch, tgt_len)``, or a mask does not have three dimensions that
                broadcast to its scores: ``(batch, tgt_len, src_len)`` for ``src_mask``,
                ``(batch, tgt_len, cached + tgt_len)`` for ``tgt_mask``.
            TypeError: If a mask is not boolean.
        """
        check_shape("tgt", tgt, ("batch", "tgt_len"))
        start = 0 if cache is None else cache.length
        batch, tgt_len = tgt.shape
        if src_mask is not None:
            scores = (batch, tgt_len, memory.size(1))
            check_mask("src_mask", src_mask, scores, "cross-attention scores", exact_rank=True)
        if tgt_mask is not None:
            scores = (batch, tgt_len, start + tgt_len)
            check_mask("tgt_mask", tgt_mask, scores, "self-attention scores", exact_rank=True)
        embed, position = self.tgt_embed
        return self.decoder(position(embed(tgt), start), memory, src_mask, tgt_mask, cache)


def make_model(
    src_vocab: int,
    tgt_vocab: int,
    N: int = 6,  # noqa: N803 (the paper's name)
    d_model: int = 512,
    d_ff: int = 2048,
    h: int = 8,
    dropout: float = 0.1,
    norm_first: bool = True,
    max_len: int = 5000,
    tie_weights: bool = False,
) -> EncoderDecoder:
    """Build a Transformer from its hyper-parameters (defaults: the paper's base model, pre-LN).

    Parameters with more than one dimension get Xavier-uniform initialisation, as in the Annotated Transformer.
    With ``tie_weights``, the generator's projection and the target embedding are one ``nn.Parameter`` (and the
    source embedding too, when ``src_vocab == tgt_vocab``): ``save_model`` stores it once, ``load_model``
    restores it tied.

    Args:
        src_vocab: Size of the source vocabulary.
        tgt_vocab: Size of the target vocabulary.
        N: Number of encoder layers and of decoder layers.
        d_model: Size of every vector between sub-layers.
        d_ff: Hidden size of the feed-forward networks.
        h: Number of attention heads; must divide ``d_model``.
        dropout: Dropout probability everywhere.
        norm_first: ``True`` for pre-LN (the Annotated Transformer), ``False`` for post-LN (the paper).
        max_len: Longest sequence the positional encoding accepts.
        tie_weights: Share the embedding matrices with the generator (see above).

    Returns:
        The model, with its ``config`` set.

    Raises:
        TypeError: If an argument has the wrong type (see ``ModelConfig``).
        ValueError: If a size is not positive, ``d_model`` is not divisible by ``h``, or ``dropout`` is not in
            ``[0, 1)``.

    Examples:
        >>> model = make_model(11, 11, N=2, d_model=32, d_ff=64, h=4)
        >>> model.config.N, sum(p.numel() for p in model.parameters())
        (2, 43947)
    """
    config = ModelConfig(src_vocab, tgt_vocab, N, d_model, d_ff, h, dropout, norm_first, max_len, tie_weights)
    c = copy.deepcopy
    attn = MultiHeadedAttention(h, d_model, dropout)
    ff = PositionwiseFeedForward(d_model, d_ff, dropout)
    position = PositionalEncoding(d_model, dropout, max_len)
    model = EncoderDecoder(
        Encoder(EncoderLayer(d_model, c(attn), c(ff), dropout, norm_first), N),
        Decoder(DecoderLayer(d_model, c(attn), c(attn), c(ff), dropout, norm_first), N),
        nn.Sequential(Embeddings(d_model, src_vocab), c(position)),
        nn.Sequential(Embeddings(d_model, tgt_vocab), c(position)),
        Generator(d_model, tgt_vocab),
        config,
    )
    if tie_weights:
        shared = model.tgt_embed[0].lut.weight  # (tgt_vocab, d_model), the shape of the generator's weight
        model.generator.proj.weight = shared
        if src_vocab == tgt_vocab:
            model.src_embed[0].lut.weight = shared
    for p in model.parameters():  # a shared matrix is listed, and initialised, once
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    return model
