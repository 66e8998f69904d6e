"""A Transformer that teaches: the encoder-decoder of "Attention Is All You Need", one idea per module.

The public names follow the Annotated Transformer. Modules, in the order of the book: ``embeddings``,
``positional``, ``attention``, ``layers``, ``encoder``, ``decoder``, ``model``, ``masks``, ``data``,
``vocab``, ``training``, ``decoding``, ``checkpoints``, ``tasks``, ``numbers``, ``lm`` (GPT and BERT from the same
layers); the command line sits on top.
What draws the book's figures is the separate package ``book``, which this one never imports.
"""

from transformer.attention import KVCache, MultiHeadedAttention, attention
from transformer.checkpoints import load_model, load_vocabs, save_model
from transformer.data import BOS, EOS, PAD, Batch, data_gen
from transformer.decoder import Decoder, DecoderCache, DecoderLayer
from transformer.decoding import beam_search, greedy_decode
from transformer.embeddings import Embeddings
from transformer.encoder import Encoder, EncoderLayer
from transformer.layers import LayerNorm, PositionwiseFeedForward, SublayerConnection, clones
from transformer.lm import (
    LanguageModel,
    LMConfig,
    NumberLMTask,
    complete,
    generate,
    lm_vocab,
    make_encoder_lm,
    make_lm,
    mask_tokens,
    sampling_probs,
)
from transformer.masks import padding_mask, subsequent_mask, target_mask
from transformer.model import EncoderDecoder, Generator, ModelConfig, make_model
from transformer.numbers import NumberTask, encode_sentences, number_vocabs, split_of, translate
from transformer.positional import PositionalEncoding, sinusoid_table
from transformer.tasks import CopyTask, TrainingState
from transformer.training import LabelSmoothing, StepStats, compute_loss, rate, train_steps
from transformer.vocab import UNK, Vocab

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "UNK",
    "Batch",
    "CopyTask",
    "Decoder",
    "DecoderCache",
    "DecoderLayer",
    "Embeddings",
    "Encoder",
    "EncoderDecoder",
    "EncoderLayer",
    "Generator",
    "KVCache",
    "LMConfig",
    "LabelSmoothing",
    "LanguageModel",
    "LayerNorm",
    "ModelConfig",
    "MultiHeadedAttention",
    "NumberLMTask",
    "NumberTask",
    "PositionalEncoding",
    "PositionwiseFeedForward",
    "StepStats",
    "SublayerConnection",
    "TrainingState",
    "Vocab",
    "attention",
    "beam_search",
    "clones",
    "complete",
    "compute_loss",
    "data_gen",
    "encode_sentences",
    "generate",
    "greedy_decode",
    "lm_vocab",
    "load_model",
    "load_vocabs",
    "make_encoder_lm",
    "make_lm",
    "make_model",
    "mask_tokens",
    "number_vocabs",
    "padding_mask",
    "rate",
    "sampling_probs",
    "save_model",
    "sinusoid_table",
    "split_of",
    "subsequent_mask",
    "target_mask",
    "train_steps",
    "translate",
]
