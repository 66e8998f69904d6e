"""Greedy decoding, batched, with cached keys and values so each step costs one position, not the prefix."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from transformer._checks import check_same_size, check_shape
from transformer.data import PAD
from transformer.decoder import DecoderCache
from transformer.masks import subsequent_mask
from transformer.model import EncoderDecoder


@torch.no_grad()
def greedy_decode(
    model: EncoderDecoder,
    src: Tensor,
    src_mask: Tensor | None,
    max_len: int,
    start_symbol: int,
    end_symbol: int | None = None,
    *,
    pad: int = PAD,
    use_cache: bool = True,
) -> Tensor:
    """Decode every row of ``src`` at once, taking the most likely token at each step.

    With ``use_cache`` (the default) each step feeds only the newest token and reuses the keys and values of
    the earlier ones (``DecoderCache``); without it, each step runs the decoder over the whole prefix, as the
    Annotated Transformer does. Both give the same tokens. Put the model in ``eval()`` mode first, or dropout
    makes the output random.

    Args:
        model: A trained model.
        src: Source ids, shape ``(batch, src_len)``.
        src_mask: ``(batch, 1, src_len)``, ``True`` at real tokens.
        max_len: Longest output, start symbol included.
        start_symbol: First token of every output row; use the one the model was trained with.
        end_symbol: A row that produces it is finished and padded from then on; decoding stops when every row
            has finished. ``None``: always decode ``max_len`` tokens.
        pad: Id written after a row's end symbol.
        use_cache: Reuse cached keys and values (fast) or recompute the prefix at every step.

    Returns:
        Token ids, shape ``(batch, out_len)`` with ``out_len <= max_len``; column 0 is ``start_symbol``.

    Raises:
        ValueError: If ``max_len`` is below 1 or beyond the model's positional table, ``start_symbol``,
            ``end_symbol`` or ``pad`` is not an id of the target vocabulary, ``src`` is not ``(batch, src_len)``,
            or ``src`` and ``src_mask`` have different batch sizes.

    Warns:
        UserWarning: If ``model`` is in training mode (dropout would make the output random).
    """
    config_max_len = model.tgt_embed[1].max_len
    if not 1 <= max_len <= config_max_len:
        raise ValueError(
            f"max_len must lie in 1 .. {config_max_len} (1 for the start symbol; the model's positional table "
            f"has {config_max_len} positions), got {max_len}"
        )
    vocab = model.tgt_embed[0].vocab
    for name, symbol in (("start_symbol", start_symbol), ("end_symbol", end_symbol), ("pad", pad)):
        if symbol is not None and not 0 <= symbol < vocab:
            raise ValueError(f"{name}: expected an id of the target vocabulary (0 .. {vocab - 1}), got {symbol}")
    check_shape("src", src, ("batch", "src_len"))
    if src_mask is not None:
        check_shape("src_mask", src_mask, ("batch", 1, "src_len"))
        check_same_size("src", src.size(0), "src_mask", src_mask.size(0), "batch size")
    if model.training:
        warnings.warn(
            "greedy_decode: the model is in training mode, so dropout makes its output random; call model.eval()",
            stacklevel=3,  # the caller of the no_grad wrapper
        )

    memory = model.encode(src, src_mask)  # (batch, src_len, d_model)
    batch = src.size(0)
    ys = torch.full((batch, 1), start_symbol, dtype=src.dtype, device=src.device)  # (batch, 1)
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    cache = DecoderCache.empty(len(model.decoder.layers)) if use_cache else None
    for _ in range(max_len - 1):
        if end_symbol is not None and finished.all():  # every row has ended (or there are none)
            break
        if cache is not None:
            out = model.decode(memory, src_mask, ys[:, -1:], None, cache)  # (batch, 1, d_model)
        else:
            tgt_mask = subsequent_mask(ys.size(1)).to(src.device)
            out = model.decode(memory, src_mask, ys, tgt_mask)  # (batch, len, d_model)
        next_word = model.generator(out[:, -1]).argmax(dim=-1)  # (batch,)
        if end_symbol is not None:
            next_word = next_word.masked_fill(finished, pad)
            finished |= next_word == end_symbol
        ys = torch.cat([ys, next_word.unsqueeze(1).to(ys.dtype)], dim=1)
    return ys
