"""Figures of chapter 10: the three families' masks, the trained language models, and where a blank looks.

The chapter's two language models are trained once and kept in the cache with their training log
(``cached_lm_run``), as chapter 9's ``cached_number_run`` keeps its encoder-decoders: the decoder-only model with the
command line's default recipe (``GPT_TASK``), the encoder-only one with the masked objective and a longer recipe
(``BERT_TASK``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from book.figures._common import cache_dir, localized, new_figure
from book.figures.overview import DOCS_DIR, machine_zh, measured_on
from book.figures.translation import VALIDATION_SIZE, cached_number_run, cached_run, run_key
from transformer.lm import BLANK, LanguageModel, NumberLMTask, lm_vocab
from transformer.training import StepStats

# The decoder-only model of the chapter: the command line's default recipe (train --task numbers-lm).
GPT_TASK = NumberLMTask()
# The encoder-only model of the chapter, with the first edition's longer recipe, 1500 steps and a 30 % cool-down: its
# loss counts 15 % of the tokens, not the whole second half, and it learns more slowly (sentences with every blank
# filled in, measured: 73 % of the validation numbers at step 600, 82 % at step 1100, 86 % of the test at the end).
BERT_TASK = NumberLMTask(objective="masked", steps=1500, cooldown=0.3)
# What the run executes (book.digest follows its imports): a change to any module it reaches retrains the models. As
# for chapter 9, the checkpoint module is left out: it only stores the result.
TRAINING_CODE = "from transformer.lm import NumberLMTask"
# The sentence whose blank the chapter fills in, and the figure shows: the Chinese 五 of 345,607.
FILL_IN = "three hundred and forty-five thousand, six hundred and seven = 三十四万_千六百零七"
# The benchmark's rows the chapter's comparison table shows (benchmarks/run.py lm), per model.
LM_BENCHMARK = ("decoder-only", "encoder-decoder")
LM_MEASURES = ("parameters", "training seconds", "exact match")


@dataclass(frozen=True)
class LMRun:
    """A trained language model and what its training reported.

    Attributes:
        model: The model, in ``eval()`` mode.
        log: One ``StepStats`` per step.
        validation: ``(step, exact match)`` on ``VALIDATION_SIZE`` validation numbers every ``VALIDATE_EVERY``
            steps, as chapter 9's runs (``NumberLMTask.exact_match``: greedy continuations for the decoder-only
            model, sentences whose blanks are all filled in for the encoder-only one).
    """

    model: LanguageModel
    log: list[StepStats]
    validation: list[tuple[int, float]]


def cached_lm_run(task: NumberLMTask | None = None) -> LMRun:
    """``task``'s model (default: ``GPT_TASK``, the command line's recipe), trained once and then loaded from the cache.

    Training is ``task.train``, what ``python -m transformer train --task numbers-lm`` runs with the same options,
    scored on validation numbers as chapter 9's runs are (``book.figures.translation.cached_run``).

    Args:
        task: The recipe.

    Returns:
        The model and its training log.
    """
    task = task if task is not None else GPT_TASK
    return LMRun(*cached_run(task, cache_dir() / f"lm-{task.objective}-{run_key(task, TRAINING_CODE)}"))


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


def where_they_look(lang: str = "en", sentence: str = FILL_IN) -> Figure:
    """Where the blank of ``sentence`` looks in the trained encoder-only model, and the decoder-only one at that step.

    The attention of the last layer, averaged over its heads. The decoder-only model writes the blanked token from
    the position before it, whose query may see only what lies to its left; the encoder-only model's blank sees the
    whole sentence, its right side too.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        sentence: A sentence of ``lm_vocab`` with one blank ``_`` after its first token.

    Returns:
        The figure: two rows of bars over the sentence's tokens, the looking position in red.
    """
    vocab = lm_vocab()
    tokens = vocab.encode(sentence).unsqueeze(0)  # (1, len): <s> ... </s>
    blank = tokens[0].tolist().index(vocab.tokens.index(BLANK))
    rows = []
    for run, position, name in (
        (
            cached_lm_run(BERT_TASK),
            blank,
            localized(lang, "encoder-only (BERT): the blank", "仅编码器（BERT）：空白处"),
        ),
        (
            cached_lm_run(GPT_TASK),
            blank - 1,
            localized(lang, "decoder-only (GPT): the step that writes it", "仅解码器（GPT）：写出它的那一步"),
        ),
    ):
        model = run.model
        attention = model.layers.layers[-1].self_attn
        attention.keep_attn = True
        try:
            with torch.no_grad():
                model(tokens, model.attention_mask(tokens))
        finally:
            attention.keep_attn = False
        rows.append((name, attention.attn[0, :, position].mean(dim=0), position))  # (len,): averaged over heads
    labels = [vocab.tokens[i] for i in tokens[0].tolist()]
    fig = new_figure(8.0, 4.6)
    axes = fig.subplots(2, 1, sharex=True, sharey=True)
    for axis, (name, weights, position) in zip(axes, rows, strict=True):
        colors = ["#c62828" if i == position else "#1565c0" for i in range(len(labels))]
        axis.bar(range(len(labels)), weights.numpy(), color=colors)
        axis.set_title(name, fontsize=10)
        axis.set_ylabel(localized(lang, "attention", "注意力"), fontsize=9)
        axis.grid(alpha=0.3, axis="y")
    axes[-1].set_xticks(range(len(labels)), labels, rotation=60, fontsize=9)
    axes[-1].set_xlabel(
        localized(
            lang, "key: the token looked at (last layer, mean of the heads)", "键：被看的词元（最后一层，各头平均）"
        ),
        fontsize=9,
    )
    return fig


def learning_curves(lang: str = "en") -> Figure:
    """Exact match on validation numbers against training steps, the decoder-only model and the encoder-decoder.

    Both are the command line's default recipe: ``cached_lm_run(GPT_TASK)`` and chapter 9's
    ``cached_number_run("en-zh")``, scored every ``VALIDATE_EVERY`` steps.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure, one panel.
    """
    fig = new_figure(6.4, 3.6)
    axis = fig.add_subplot()
    for validation, color, label in (
        (
            cached_number_run("en-zh").validation,
            "#1565c0",
            localized(lang, "encoder-decoder (chapter 9)", "编码器-解码器（第 9 章）"),
        ),
        (cached_lm_run(GPT_TASK).validation, "#c62828", localized(lang, "decoder-only (GPT)", "仅解码器（GPT）")),
    ):
        points = [(0, 0.0), *validation]
        axis.plot(
            [step for step, _ in points], [100 * m for _, m in points], "o-", markersize=3, color=color, label=label
        )
    axis.set_xlabel(localized(lang, "training step", "训练步数"))
    axis.set_ylabel(
        localized(
            lang,
            f"exact match on {VALIDATION_SIZE} validation numbers (%)",
            f"{VALIDATION_SIZE} 个验证数的完全匹配率（%）",
        )
    )
    axis.set_ylim(0, 101)
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(alpha=0.3)
    return fig


def lm_benchmark_table(lang: str = "en", path: Path = DOCS_DIR.parent / "benchmarks" / "results.json") -> str:
    """The decoder-only model against the encoder-decoder, as ``benchmarks/run.py lm`` measured them in one run.

    Args:
        lang: Language of the table, ``"en"`` or ``"zh"``.
        path: The benchmarks' record (``benchmarks/run.py --save``).

    Returns:
        A sentence naming the date and the machine, then a Markdown table: parameters, training seconds and exact
        match on 2000 test numbers, one column per model. A record without all of these rows gives, instead, a
        sentence that says so and how to measure them (``benchmarks/run.py lm --save``).
    """
    record = json.loads(path.read_text(encoding="utf-8"))
    names = {(model, measure): f"lm en-zh, {model}: {measure}" for model in LM_BENCHMARK for measure in LM_MEASURES}
    if any(name not in record["results"] for name in names.values()):
        return localized(
            lang,
            f"`{path.name}` holds no measurement of this comparison yet: run `benchmarks/run.py lm --save`.",
            f"`{path.name}` 里还没有这项比较的测量结果：请运行 `benchmarks/run.py lm --save`。",
        )
    values = {key: record["results"][name] for key, name in names.items()}
    rows = [
        localized(lang, "| | decoder-only | encoder-decoder |", "| | 仅解码器 | 编码器-解码器 |"),
        "|---|---:|---:|",
    ]
    for measure, en, zh, shown in (
        ("parameters", "parameters", "参数量", lambda v: f"{v:,}"),
        ("training seconds", "training seconds", "训练秒数", lambda v: f"{v:.0f}"),
        ("exact match", "exact match, 2000 test numbers", "完全匹配率（2000 个测试数）", lambda v: f"{100 * v:.2f} %"),
    ):
        cells = " | ".join(shown(values[model, measure]) for model in LM_BENCHMARK)
        rows.append(f"| {localized(lang, en, zh)} | {cells} |")
    date = max(measured_on(record, name) for name in names.values())
    if lang == "zh":
        intro = f"测量于 {date}：{machine_zh(record['machine'])}，torch {record['torch']}，{record['threads']} 个线程。"
    else:
        intro = f"Measured on {date}: {record['machine']}, torch {record['torch']}, {record['threads']} threads."
    return intro + "\n\n" + "\n".join(rows)
