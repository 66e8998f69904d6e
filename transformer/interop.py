"""PyTorch's built-in twins of our modules, with the same weights: how the tests prove the two equal.

``nn.MultiheadAttention`` packs the query, key and value projections into one ``in_proj_weight`` of shape
``(3 * d_model, d_model)``; ``nn.Transformer`` takes embedded inputs and masks of the opposite polarity
(``True`` = masked out). The functions here copy our weights into those layouts; nothing imports this module
on the hot path.
"""

from __future__ import annotations

import torch
from torch import nn

from transformer.attention import MultiHeadedAttention
from transformer.decoder import DecoderLayer
from transformer.encoder import EncoderLayer
from transformer.model import EncoderDecoder


@torch.no_grad()
def _copy_attention(ours: MultiHeadedAttention, theirs: nn.MultiheadAttention) -> None:
    theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
    theirs.out_proj.weight.copy_(ours.out_proj.weight)
    theirs.out_proj.bias.copy_(ours.out_proj.bias)


def to_torch_attention(mha: MultiHeadedAttention) -> nn.MultiheadAttention:
    """An ``nn.MultiheadAttention`` (``batch_first=True``) computing the same function as ``mha``.

    Args:
        mha: Our module.

    Returns:
        The built-in module with copied weights. Give it ``attn_mask=~mask`` (its polarity is the opposite).

    Examples:
        >>> theirs = to_torch_attention(MultiHeadedAttention(h=8, d_model=512))
        >>> theirs.in_proj_weight.shape
        torch.Size([1536, 512])
    """
    theirs = nn.MultiheadAttention(mha.d_model, mha.h, dropout=mha.dropout.p, batch_first=True)
    _copy_attention(mha, theirs)
    return theirs


@torch.no_grad()
def _copy_sublayers(ours: EncoderLayer | DecoderLayer, theirs: nn.Module, norms: list[nn.LayerNorm]) -> None:
    theirs.linear1.load_state_dict(ours.feed_forward.w_1.state_dict())
    theirs.linear2.load_state_dict(ours.feed_forward.w_2.state_dict())
    for sublayer, norm in zip(ours.sublayer, norms, strict=True):
        norm.load_state_dict(sublayer.norm.state_dict())


def to_torch_transformer(model: EncoderDecoder) -> nn.Transformer:
    """An ``nn.Transformer`` (``batch_first=True``) with the encoder and decoder stacks of ``model``.

    ``nn.Transformer`` has no embeddings or generator: feed it ``model.src_embed(src)`` and
    ``model.tgt_embed(tgt)``. By default it ends both stacks with a layer norm even in post-LN; here the final
    norms follow ``model`` (present for pre-LN only).

    Args:
        model: A model built by ``make_model``.

    Returns:
        The built-in model with copied weights, in the same training/eval mode as ``model``.

    Raises:
        ValueError: If ``model`` has no ``config`` (it was not built by ``make_model``).
    """
    cfg = model.config
    if cfg is None:
        raise ValueError("model: has no config; build it with make_model")
    options = {"dropout": cfg.dropout, "batch_first": True, "norm_first": cfg.norm_first}
    encoder_layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.h, cfg.d_ff, **options)
    decoder_layer = nn.TransformerDecoderLayer(cfg.d_model, cfg.h, cfg.d_ff, **options)
    encoder = nn.TransformerEncoder(
        encoder_layer, cfg.N, norm=nn.LayerNorm(cfg.d_model) if cfg.norm_first else None, enable_nested_tensor=False
    )
    decoder = nn.TransformerDecoder(decoder_layer, cfg.N, norm=nn.LayerNorm(cfg.d_model) if cfg.norm_first else None)
    theirs = nn.Transformer(cfg.d_model, cfg.h, custom_encoder=encoder, custom_decoder=decoder, batch_first=True)
    for ours, layer in zip(model.encoder.layers, encoder.layers, strict=True):
        _copy_attention(ours.self_attn, layer.self_attn)
        _copy_sublayers(ours, layer, [layer.norm1, layer.norm2])
    for ours, layer in zip(model.decoder.layers, decoder.layers, strict=True):
        _copy_attention(ours.self_attn, layer.self_attn)
        _copy_attention(ours.src_attn, layer.multihead_attn)
        _copy_sublayers(ours, layer, [layer.norm1, layer.norm2, layer.norm3])
    if cfg.norm_first:
        encoder.norm.load_state_dict(model.encoder.norm.state_dict())
        decoder.norm.load_state_dict(model.decoder.norm.state_dict())
    return theirs.train(model.training)
