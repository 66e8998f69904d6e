"""Greedy decoding and beam search, batched, with cached keys and values: each step costs one position."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from transformer._checks import check_same_size, check_shape
from transformer.data import PAD
from transformer.decoder import DecoderCache
from transformer.masks import subsequent_mask
from transformer.model import EncoderDecoder


def _check_decoding_arguments(
    name: str,
    model: EncoderDecoder,
    src: Tensor,
    src_mask: Tensor | None,
    max_len: int,
    symbols: dict[str, int | None],
) -> None:
    """The checks ``greedy_decode`` and ``beam_search`` make before they start (see their ``Raises:``)."""
    config_max_len = model.tgt_embed[1].max_len
    if not 1 <= max_len <= config_max_len:
        raise ValueError(
            f"max_len must lie in 1 .. {config_max_len} (1 for the start symbol; the model's positional table "
            f"has {config_max_len} positions), got {max_len}"
        )
    vocab = model.tgt_embed[0].vocab
    for symbol_name, symbol in symbols.items():
        if symbol is not None and not 0 <= symbol < vocab:
            raise ValueError(f"{symbol_name}: expected an id of the target vocabulary (0 .. {vocab - 1}), got {symbol}")
    check_shape("src", src, ("batch", "src_len"))
    if src_mask is not None:
        check_shape("src_mask", src_mask, ("batch", 1, "src_len"))
        check_same_size("src", src.size(0), "src_mask", src_mask.size(0), "batch size")
    if model.training:
        warnings.warn(
            f"{name}: the model is in training mode, so dropout makes its output random; call model.eval()",
            stacklevel=4,  # the caller of the no_grad wrapper
        )


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
    _check_decoding_arguments(
        "greedy_decode",
        model,
        src,
        src_mask,
        max_len,
        {"start_symbol": start_symbol, "end_symbol": end_symbol, "pad": pad},
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


@torch.no_grad()
def beam_search(
    model: EncoderDecoder,
    src: Tensor,
    src_mask: Tensor | None,
    max_len: int,
    start_symbol: int,
    end_symbol: int,
    *,
    beam_size: int = 4,
    alpha: float = 0.6,
    n_best: int = 1,
    pad: int = PAD,
) -> tuple[Tensor, Tensor]:
    r"""Decode every row of ``src`` at once, keeping the ``beam_size`` most likely outputs of each at every step.

    All sentences and their beams run as one batch of ``batch × beam_size`` rows, with the decoder's cache
    (``DecoderCache``): each step feeds one token per hypothesis, then the self-attention cache's rows are reordered
    to follow the hypotheses that were kept (``KVCache.reorder``). The first step, whose beams would all be the
    same, runs once per sentence; sentences that are done leave the batch in groups. While searching, hypotheses
    are ranked by their summed log-probability; one that has produced ``end_symbol`` stays in its beam, padded,
    with its score unchanged. A sentence is done, and its beam frozen, when ``n_best`` of its hypotheses have ended
    and no unfinished one can still beat them (its log-probability only falls, and it is normalised by at most $lp$ of
    ``max_len``); decoding stops when every sentence is done or ``max_len`` is reached. The hypotheses are ranked by
    GNMT's length-normalised score (Wu et al., 2016), which keeps short outputs from winning merely by having fewer
    probabilities below 1 to multiply:

    $$
    s(Y) = \frac{\log P(Y \mid X)}{lp(Y)}, \qquad lp(Y) = \left(\frac{5 + |Y|}{6}\right)^{\alpha}
    $$

    where $|Y|$ counts the output's tokens, ``end_symbol`` included. ``alpha = 0`` ranks by log-probability alone.
    With ``beam_size = 1`` this is greedy decoding. Put the model in ``eval()`` mode first.

    Args:
        model: A trained model.
        src: Source ids, shape ``(batch, src_len)``.
        src_mask: ``(batch, 1, src_len)``, ``True`` at real tokens.
        max_len: Longest output, start symbol included.
        start_symbol: First token of every output.
        end_symbol: The token that ends a hypothesis.
        beam_size: Hypotheses kept per sentence.
        alpha: Strength of the length normalisation, ``>= 0``.
        n_best: How many hypotheses to return per sentence, best first; at most ``beam_size``.
        pad: Id written after a hypothesis's end symbol.

    Returns:
        ``(tokens, scores)``: token ids, shape ``(batch, n_best, out_len)`` with ``out_len <= max_len`` and column 0
        the start symbol, and their length-normalised scores, shape ``(batch, n_best)``, in decreasing order
        (``-inf`` for a hypothesis the search could not fill, when the vocabulary is smaller than the beam).

    Raises:
        ValueError: If ``beam_size`` or ``n_best`` is below 1, ``n_best`` exceeds ``beam_size``, ``alpha`` is
            negative, or an argument fails one of ``greedy_decode``'s checks.

    Warns:
        UserWarning: If ``model`` is in training mode (dropout would make the output random).

    Examples:
        >>> from transformer import make_model
        >>> model = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2).eval()
        >>> src = torch.tensor([[1, 5, 6, 2]])
        >>> tokens, scores = beam_search(model, src, None, max_len=6, start_symbol=1, end_symbol=2, n_best=3)
        >>> tokens.shape[:2], scores.shape, bool((scores[:, :-1] >= scores[:, 1:]).all())
        (torch.Size([1, 3]), torch.Size([1, 3]), True)
    """
    if beam_size < 1:
        raise ValueError(f"beam_size: expected an integer >= 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best: expected an integer in 1 .. beam_size={beam_size}, got {n_best}")
    if not alpha >= 0:
        raise ValueError(f"alpha: expected a number >= 0, got {alpha}")
    _check_decoding_arguments(
        "beam_search",
        model,
        src,
        src_mask,
        max_len,
        {"start_symbol": start_symbol, "end_symbol": end_symbol, "pad": pad},
    )

    vocab = model.tgt_embed[0].vocab
    batch, k, device = src.size(0), beam_size, src.device
    longest = ((5 + max_len - 1) / 6) ** alpha  # the largest lp an output of at most max_len - 1 tokens can have
    # A finished hypothesis may only continue with pad, at no cost.
    ended = torch.full((vocab,), float("-inf"), dtype=torch.float64, device=device)
    ended[pad] = 0.0

    def settled(scores: Tensor, lengths: Tensor, finished: Tensor) -> Tensor:
        """``(n,)``: whether each sentence's n best have ended and no unfinished hypothesis can still beat them."""
        normalised = scores / ((5 + lengths) / 6).double() ** alpha  # (n, k)
        nth_best = normalised.masked_fill(~finished, float("-inf")).topk(n_best, dim=1).values[:, -1]  # (n,)
        hope = (scores / longest).masked_fill(finished, float("-inf")).amax(dim=1)  # best an unfinished one can reach
        return finished.all(dim=1) | (hope < nth_best)

    if max_len == 1:  # the start symbol alone: one hypothesis, of log-probability 0
        scores = torch.full((batch, n_best), float("-inf"), device=device)
        scores[:, 0] = 0.0
        return torch.full((batch, n_best, 1), start_symbol, dtype=src.dtype, device=device), scores
    # The first step runs once per sentence: its k beams would all be the same. Its k best tokens start them.
    memory = model.encode(src, src_mask)  # (batch, src_len, d_model)
    cache = DecoderCache.empty(len(model.decoder.layers))
    start = torch.full((batch, 1), start_symbol, dtype=src.dtype, device=device)  # (batch, 1)
    out = model.decode(memory, src_mask, start, None, cache)  # (batch, 1, d_model)
    log_probs = model.generator(out[:, -1]).double()  # (batch, vocab)
    # Summed log-probabilities, in float64 so that adding them up never turns a strict ordering into a tie;
    # -inf for the beams a vocabulary smaller than the beam cannot fill.
    scores = torch.full((batch, k), float("-inf"), dtype=torch.float64, device=device)  # (n, k)
    token = torch.full((batch, k), pad, dtype=torch.long, device=device)
    scores[:, : min(k, vocab)], token[:, : min(k, vocab)] = log_probs.topk(min(k, vocab), dim=1)
    # From here on, row a * k + j of every tensor is hypothesis j of sentence ``alive[a]``; the caches, the memory
    # and the mask are repeated k times (the source keys and values were projected once per sentence).
    alive = torch.arange(batch, device=device)  # (n,): the sentences in the batch
    cache.reorder(alive.repeat_interleave(k))
    memory = memory.repeat_interleave(k, dim=0)  # (n * k, src_len, d_model)
    beam_mask = None if src_mask is None else src_mask.repeat_interleave(k, dim=0)  # (n * k, 1, src_len)
    ys = torch.cat([start.repeat_interleave(k, dim=0), token.view(-1, 1).to(src.dtype)], dim=1)  # (n * k, out_len)
    lengths = torch.ones(batch, k, dtype=torch.long, device=device)  # output tokens, end symbol included
    finished = token == end_symbol  # (n, k)
    done = settled(scores, lengths, finished)  # (n,)
    # What the sentences that left the batch hold: their tokens (padded with ``pad``), scores and lengths.
    out_tokens = torch.full((batch, k, max_len), pad, dtype=src.dtype, device=device)
    out_scores, out_lengths = scores.clone(), lengths.clone()

    def leave(leaving: Tensor) -> None:
        """Copy out the hypotheses of the sentences ``leaving`` (a boolean mask over the batch's sentences)."""
        out_tokens[alive[leaving], :, : ys.size(1)] = ys.view(alive.numel(), k, -1)[leaving]
        out_scores[alive[leaving]], out_lengths[alive[leaving]] = scores[leaving], lengths[leaving]

    # A done sentence's beam is frozen; once half of the sentences in the batch are done, they leave it (leaving
    # copies every cache, hence not at every step).
    for _ in range(max_len - 2):
        if done.all():
            break
        if 2 * int(done.sum()) >= done.numel():
            leave(done)
            stay = (~done).nonzero().squeeze(1)  # (n after,)
            rows = (stay.unsqueeze(1) * k + torch.arange(k, device=device)).view(-1)  # their rows
            alive, scores, lengths, finished = alive[stay], scores[stay], lengths[stay], finished[stay]
            memory, ys, done = memory[rows], ys[rows], done[stay]
            beam_mask = None if beam_mask is None else beam_mask[rows]
            cache.reorder(rows)
        n = alive.numel()
        out = model.decode(memory, beam_mask, ys[:, -1:], None, cache)  # (n * k, 1, d_model)
        log_probs = model.generator(out[:, -1]).double().view(n, k, vocab)  # (n, k, vocab)
        frozen = finished | done.unsqueeze(1)  # (n, k)
        log_probs = torch.where(frozen.unsqueeze(-1), ended, log_probs)
        candidates = (scores.unsqueeze(-1) + log_probs).view(n, k * vocab)  # (n, k * vocab)
        scores, chosen = candidates.topk(k, dim=1)  # (n, k) each, best first
        parent, token = chosen // vocab, chosen % vocab  # (n, k) each
        order = (torch.arange(n, device=device).unsqueeze(1) * k + parent).view(-1)  # (n * k,): rows extended
        ys = torch.cat([ys[order], token.view(-1, 1).to(ys.dtype)], dim=1)
        # Only the self-attention caches: the source keys and values of every beam of a sentence are the same,
        # and a hypothesis never moves to another sentence's rows.
        for self_cache, _ in cache.layers:
            self_cache.reorder(order)
        finished, lengths, frozen = finished.gather(1, parent), lengths.gather(1, parent), frozen.gather(1, parent)
        lengths += ~frozen
        finished |= (token == end_symbol) & ~frozen
        done |= settled(scores, lengths, finished)
    leave(torch.ones_like(done))  # the rest, done or stopped by max_len; every output is as long as the longest
    out_len = ys.size(1)
    normalised = out_scores / ((5 + out_lengths) / 6).double() ** alpha  # (batch, k)
    best, rank = normalised.sort(dim=1, descending=True, stable=True)
    tokens = out_tokens[:, :, :out_len].gather(1, rank.unsqueeze(-1).expand(-1, -1, out_len))  # (batch, k, out_len)
    return tokens[:, :n_best], best[:, :n_best].float()
