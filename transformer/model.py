"""The full encoder-decoder model and ``make_model``, which builds it from a few hyper-parameters."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import Tensor, nn

from transformer._checks import check_same_size, check_shape
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
        """
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
        """
        embed, position = self.tgt_embed
        start = 0 if cache is None else cache.length
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
) -> EncoderDecoder:
    """Build a Transformer from its hyper-parameters (defaults: the paper's base model, pre-LN).

    Parameters with more than one dimension get Xavier-uniform initialisation, as in the Annotated Transformer.

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

    Returns:
        The model, with its ``config`` set.

    Raises:
        ValueError: If ``d_model`` is not divisible by ``h``.

    Examples:
        >>> model = make_model(11, 11, N=2, d_model=32, d_ff=64, h=4)
        >>> model.config.N, sum(p.numel() for p in model.parameters())
        (2, 43947)
    """
    config = ModelConfig(src_vocab, tgt_vocab, N, d_model, d_ff, h, dropout, norm_first, max_len)
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
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    return model
