"""Figures of chapter 10: the three families' masks, and what a blank looks at in BERT and in GPT.

The chapter's two language models are trained once and kept in the cache with their training log
(``cached_lm_run``): the decoder-only model with the command line's default recipe (``NumberLMTask()``), the
encoder-only one with the masked objective and fewer steps (``BERT_TASK``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from book.figures._common import cache_dir, localized, new_figure, training_code_digest
from transformer.checkpoints import load_model, save_model
from transformer.lm import BLANK, LanguageModel, NumberLMTask, lm_vocab
from transformer.training import StepStats

# The encoder-only model of the chapter: filling in blanks with the other language in view is learnt faster than
# translation, so it trains for fewer steps.
BERT_TASK = NumberLMTask(objective="masked", steps=600)
# The recipe's imports: a change to any module they reach retrains the models (book.digest).
TRAINING_CODE = "from transformer.lm import NumberLMTask\nfrom transformer.checkpoints import save_model"
# The sentence whose blank the chapter fills in: the Chinese 五 of 345,607.
FILL_IN = "three hundred and forty-five thousand, six hundred and seven = 三十四万_千六百零七"


@dataclass(frozen=True)
class LMRun:
    """A trained language model and what its training reported.

    Attributes:
        model: The model, in ``eval()`` mode.
        log: One ``StepStats`` per step.
        exact_match: ``task.exact_match`` on 2000 test numbers after training.
    """

    model: LanguageModel
    log: list[StepStats]
    exact_match: float


def _key(task: NumberLMTask) -> str:
    """The cache key of ``task``'s run: its recipe, the threads (they change float sums) and the training code."""
    recipe = {
        **dataclasses.asdict(task),
        "threads": torch.get_num_threads(),
        "code": training_code_digest(TRAINING_CODE),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cached_lm_run(task: NumberLMTask | None = None) -> LMRun:
    """``task``'s model (default: the command line's ``NumberLMTask()``), trained once and then loaded from the cache.

    Training is ``task.train``, what ``python -m transformer train --task numbers-lm`` runs with the same options
    (on one process).

    Args:
        task: The recipe.

    Returns:
        The model, its training log and its exact match on 2000 test numbers.
    """
    task = task if task is not None else NumberLMTask()
    path = cache_dir() / f"lm-{task.objective}-{_key(task)}"
    weights, log_file = path.with_suffix(".safetensors"), path.with_suffix(".json")
    if weights.is_file() and log_file.is_file():
        saved = json.loads(log_file.read_text(encoding="utf-8"))
        return LMRun(load_model(weights), [StepStats(**row) for row in saved["log"]], saved["exact_match"])
    model = task.build_model()
    log = list(task.train(model))
    exact_match = task.exact_match(model.eval())
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, weights, vocabs=task.vocabs)
    saved = {"log": [dataclasses.asdict(stats) for stats in log], "exact_match": exact_match}
    log_file.write_text(json.dumps(saved), encoding="utf-8")
    return LMRun(model, log, exact_match)


def family_masks(lang: str = "en") -> Figure:
    """Which position may look at which, in the three families, for the sentence ``five = 五``.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure: the encoder-decoder's three masks (encoder, decoder, cross), the decoder-only model's causal
        mask over the whole sentence, the encoder-only model's full mask.
    """
    source, target, sentence = ["<s>", "five", "</s>"], ["<s>", "五"], ["<s>", "five", "=", "五"]
    n, m, k = len(source), len(target), len(sentence)
    panels = [
        (localized(lang, "encoder-decoder:\nencoder", "编码器-解码器：\n编码器"), torch.ones(n, n), source, source),
        (
            localized(lang, "encoder-decoder:\ndecoder", "编码器-解码器：\n解码器"),
            torch.ones(m, m).tril(),
            target,
            target,
        ),
        (
            localized(lang, "encoder-decoder:\ncross-attention", "编码器-解码器：\n交叉注意力"),
            torch.ones(m, n),
            target,
            source,
        ),
        (localized(lang, "decoder-only (GPT)", "仅解码器（GPT）"), torch.ones(k, k).tril(), sentence, sentence),
        (localized(lang, "encoder-only (BERT)", "仅编码器（BERT）"), torch.ones(k, k), sentence, sentence),
    ]
    fig = new_figure(11.0, 3.0)
    axes = fig.subplots(1, len(panels), gridspec_kw={"width_ratios": [len(keys) for _, _, _, keys in panels]})
    for axis, (title, mask, queries, keys) in zip(axes, panels, strict=True):
        axis.imshow(mask.numpy(), cmap="Blues", vmin=0, vmax=1.4)
        axis.set_xticks(range(len(keys)), keys, fontsize=8)
        axis.set_yticks(range(len(queries)), queries, fontsize=8)
        axis.set_title(title, fontsize=9)
        axis.tick_params(length=0)
    axes[0].set_ylabel(localized(lang, "query (who looks)", "查询（谁在看）"), fontsize=8)
    fig.supxlabel(localized(lang, "key (what it may see): blue = allowed", "键（能看到什么）：蓝色 = 允许"), fontsize=9)
    return fig


def where_they_look(lang: str = "en") -> Figure:
    """The attention of the blank in ``FILL_IN`` (BERT, last layer, averaged over heads) and of GPT at that step.

    GPT writes 五 from the position before it (万), whose query may see only what lies to its left; BERT's blank
    sees the whole sentence, 千六百零七 on its right too.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure: two rows of bars over the sentence's tokens.
    """
    vocab = lm_vocab()
    tokens = vocab.encode(FILL_IN).unsqueeze(0)  # (1, len)
    blank = tokens[0].tolist().index(vocab.tokens.index(BLANK))
    bert, gpt = cached_lm_run(BERT_TASK).model, cached_lm_run().model
    rows = []
    for model, position, name in (
        (bert, blank, localized(lang, "encoder-only (BERT): the blank", "仅编码器（BERT）：空格位置")),
        (
            gpt,
            blank - 1,
            localized(lang, "decoder-only (GPT): the step that writes it", "仅解码器（GPT）：写出它的那一步"),
        ),
    ):
        attention = model.layers.layers[-1].self_attn
        attention.keep_attn = True
        with torch.no_grad():
            model(tokens, model.attention_mask(tokens))
        attention.keep_attn = False
        rows.append((name, attention.attn[0, :, position].mean(dim=0), position))  # (len,): averaged over heads
    labels = [vocab.tokens[i] for i in tokens[0].tolist()]
    fig = new_figure(10.0, 3.6)
    axes = fig.subplots(2, 1, sharex=True)
    for axis, (name, weights, position) in zip(axes, rows, strict=True):
        colors = ["#c62828" if i == position else "#1565c0" for i in range(len(labels))]
        axis.bar(range(len(labels)), weights.numpy(), color=colors)
        axis.set_title(name, fontsize=9)
        axis.set_ylabel(localized(lang, "attention", "注意力"), fontsize=8)
        axis.grid(alpha=0.3, axis="y")
    axes[-1].set_xticks(range(len(labels)), labels, rotation=60, fontsize=8)
    return fig
