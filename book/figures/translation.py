"""Figures of chapter 9: tokenization, training on the number task, greedy vs beam, and attention on language.

The chapter's models are the command line's default recipe (``NumberTask(direction)``), trained once per direction
and kept in the cache with their training log (``cached_number_run``); the figures, the beam-search table and the
attention explorer all read them from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from book.figures._common import LANGS, cache_dir, localized, new_figure, training_code_digest, training_lock
from book.figures.overview import CHAPTERS
from book.numerics import arithmetic
from transformer.checkpoints import load_model, save_model
from transformer.data import PAD
from transformer.masks import padding_mask, subsequent_mask
from transformer.model import EncoderDecoder
from transformer.numbers import DIRECTIONS, NumberTask
from transformer.tasks import Recipe
from transformer.training import StepStats
from transformer.vocab import SPECIALS

# Exact match on this many validation numbers, every VALIDATE_EVERY steps: the learning curve's second panel.
VALIDATE_EVERY = 100
VALIDATION_SIZE = 1000
BEAM_SIZES = (1, 2, 4, 8)
# The numbers of the chapter's attention figures and of the explorer: every grouping the two languages disagree on
# (thousand and 万, 零, 一十, a hundred million minus one).
SHOWCASE = (15, 110, 305, 10010, 45000, 345607, 20000305, 98765432)
FIGURE_NUMBER = 345607
# The cross-attention heads the static figure shows, (layer, head) per direction: the ones that follow the
# regrouping most plainly (the explorer shows them all).
FIGURE_HEADS = {"en-zh": (1, 0), "zh-en": (1, 2)}
# What the run executes (book.digest follows its imports): a change to any module it reaches retrains the models. As
# for chapter 8's cached_copy_model, the checkpoint module is left out: it only stores the result, and a change to
# its format that matters makes load_model refuse the file rather than return another model.
TRAINING_CODE = "from transformer.numbers import NumberTask"
# The sentences the book's own BPE splits: prose of each language, then a number in each.
SUBWORD_SENTENCES = (
    "The decoder attends to the memory of the encoder.",
    "解码器通过交叉注意力读取编码器的记忆。",
    "three hundred and forty-five thousand, six hundred and seven",
    "三十四万五千六百零七",
)


@dataclass(frozen=True)
class NumberRun:
    """A trained number model and what its training reported.

    Attributes:
        model: The model, in ``eval()`` mode.
        log: One ``StepStats`` per step.
        validation: ``(step, exact match)`` on ``VALIDATION_SIZE`` validation numbers, every ``VALIDATE_EVERY``
            steps.
    """

    model: EncoderDecoder
    log: list[StepStats]
    validation: list[tuple[int, float]]


def run_key(task: Recipe, training_code: str = TRAINING_CODE) -> str:
    """The cache key of ``task``'s run: its recipe, the arithmetic (``book.numerics``: it changes float sums), the
    training code and the validation schedule.

    Args:
        task: The recipe (``NumberTask`` here, ``NumberLMTask`` in chapter 10).
        training_code: The imports of the run (``training_code_digest``).
    """
    recipe = {
        **dataclasses.asdict(task),
        "arithmetic": arithmetic(),
        "code": training_code_digest(training_code),
        "validation": [VALIDATE_EVERY, VALIDATION_SIZE],
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cached_run(task: Recipe, path: Path) -> tuple[nn.Module, list[StepStats], list[tuple[int, float]]]:
    """``task``'s model trained once, then loaded from ``path`` (``.safetensors`` and ``.json``, its log).

    Training is ``task.train``, what the command line runs with the same options (on one process); every
    ``VALIDATE_EVERY`` steps the model is also scored on ``VALIDATION_SIZE`` validation numbers
    (``task.exact_match``), which changes nothing in its training.

    Args:
        task: The recipe: a task with ``build_model``, ``train``, ``exact_match`` and ``vocabs``.
        path: The run's files in the cache, without their suffix (named with ``run_key``).

    Returns:
        The model in ``eval()`` mode, one ``StepStats`` per step, and ``(step, exact match)`` per validation.
    """
    weights, log_file = path.with_suffix(".safetensors"), path.with_suffix(".json")
    with training_lock(path):
        if weights.is_file() and log_file.is_file():
            saved = json.loads(log_file.read_text(encoding="utf-8"))
            log = [StepStats(**row) for row in saved["log"]]
            return load_model(weights), log, [tuple(point) for point in saved["validation"]]
        model = task.build_model()
        log, validation = [], []
        for stats in task.train(model):
            log.append(stats)
            if stats.step % VALIDATE_EVERY == 0:
                validation.append((stats.step, task.exact_match(model, n=VALIDATION_SIZE, split="validation")))
                model.train()  # exact_match decodes in eval() mode
        model.eval()
        save_model(model, weights, vocabs=task.vocabs)
        saved = {"log": [dataclasses.asdict(stats) for stats in log], "validation": validation}
        log_file.write_text(json.dumps(saved), encoding="utf-8")
    return model, log, validation


def cached_number_run(direction: str = "en-zh", **recipe: int | float) -> NumberRun:
    """The command line's number model for ``direction``, trained once and then loaded from the cache.

    Training is ``NumberTask(direction, **recipe).train``, exactly what ``python -m transformer train --task
    numbers`` runs with the same options (``cached_run``).

    Args:
        direction: ``"en-zh"`` or ``"zh-en"``.
        **recipe: Other ``NumberTask`` fields (default: the command line's recipe).

    Returns:
        The model and its training log.
    """
    task = NumberTask(direction, **recipe)
    return NumberRun(*cached_run(task, cache_dir() / f"numbers-{direction}-{run_key(task)}"))


def cached_number_model(direction: str = "en-zh", **recipe: int | float) -> EncoderDecoder:
    """The trained model of ``cached_number_run(direction, **recipe)``, in ``eval()`` mode."""
    return cached_number_run(direction, **recipe).model


def learning_curves(lang: str = "en") -> Figure:
    """The chapter's two training runs: the loss at every step, and exact match on validation numbers.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.

    Returns:
        The figure, two panels.
    """
    fig = new_figure(9.0, 3.6)
    loss_axis, match_axis = fig.subplots(1, 2)
    colors = {"en-zh": "#1565c0", "zh-en": "#c62828"}
    for direction in DIRECTIONS:
        run = cached_number_run(direction)
        label = localized(lang, direction.replace("-", " → "), {"en-zh": "英 → 中", "zh-en": "中 → 英"}[direction])
        steps = [s.step for s in run.log]
        loss_axis.semilogy(steps, [s.loss for s in run.log], color=colors[direction], linewidth=0.8, label=label)
        points = [(0, 0.0), *run.validation]
        match_axis.plot(
            [step for step, _ in points], [100 * m for _, m in points], "o-", markersize=3, color=colors[direction]
        )
        match_axis.plot([], [], "o-", markersize=3, color=colors[direction], label=label)
    loss_axis.set_xlabel(localized(lang, "training step", "训练步数"))
    loss_axis.set_ylabel(localized(lang, "loss per target token (log scale)", "每个目标词元的损失（对数坐标）"))
    loss_axis.legend(fontsize=8)
    loss_axis.grid(alpha=0.3)
    match_axis.set_xlabel(localized(lang, "training step", "训练步数"))
    match_axis.set_ylabel(
        localized(
            lang,
            f"exact match on {VALIDATION_SIZE} validation numbers (%)",
            f"{VALIDATION_SIZE} 个验证数的完全匹配率（%）",
        )
    )
    match_axis.set_ylim(0, 101)
    match_axis.legend(fontsize=8, loc="lower right")
    match_axis.grid(alpha=0.3)
    return fig


def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's stand-in characters for the 256 bytes, as byte-level BPE writes its tokens, and the byte of each.

    Printable bytes stand for themselves; the others (space, control bytes, ...) are moved to the characters from
    U+0100 on, so that every token is a string of visible characters.
    """
    visible = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in visible]
    return {chr(b): b for b in visible} | {chr(256 + i): b for i, b in enumerate(moved)}


def _shown(piece: bytes) -> str:
    """A subword as the reader should see it: its text (``␣`` for a space), or its bytes when they are not text."""
    try:
        return piece.decode("utf-8").replace(" ", "␣")
    except UnicodeDecodeError:  # part of a character: a Chinese character is three bytes in UTF-8
        return "<" + " ".join(f"{b:02x}" for b in piece) + ">"


def subword_pieces(vocab_size: int = 4000) -> tuple[int, int, dict[str, list[bytes]]]:
    """Train a BPE tokenizer on the book's chapters before this one, both languages, and split sentences with it.

    Hugging Face ``tokenizers``' byte-level BPE (GPT-2's: every byte is a token, so nothing is unknown), trained
    when this runs on the pages of the chapters that come before chapter 9 (``overview.CHAPTERS``), English and
    Chinese. Not on this chapter, nor the ones after it: they are full of the very number sentences it splits.

    Args:
        vocab_size: Size of the vocabulary to learn.

    Returns:
        ``(chapters, vocabulary size, {sentence: its subwords})``: the chapters learned from (1 to ``chapters``),
        and each subword as the bytes it stands for.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    before = CHAPTERS[: [chapter.slug for chapter in CHAPTERS].index("translation")]
    pages = [str(chapter.page(lang)) for chapter in before for lang in LANGS]
    tokenizer.train(pages, trainer)
    alphabet = _byte_level_alphabet()
    pieces = {
        sentence: [bytes(alphabet[c] for c in token) for token in tokenizer.encode(sentence).tokens]
        for sentence in SUBWORD_SENTENCES
    }
    return len(before), tokenizer.get_vocab_size(), pieces


def subword_splits(lang: str = "en", vocab_size: int = 4000) -> str:
    """``subword_pieces(vocab_size)`` as a Markdown table: each sentence, its subwords and their count.

    A subword that is only part of a character's UTF-8 bytes is shown as those bytes, ``<e5 8d>``.

    Args:
        lang: Language of the table's labels, ``"en"`` or ``"zh"``.
        vocab_size: Size of the vocabulary to learn.

    Returns:
        The table, and a line on the vocabulary.
    """
    chapters, size, pieces = subword_pieces(vocab_size)
    rows = [localized(lang, "| sentence | subwords | count |", "| 句子 | 子词 | 个数 |"), "|---|---|---|"]
    for sentence, split in pieces.items():
        shown = " ".join(f"`{_shown(piece)}`" for piece in split)
        rows.append(f"| {sentence} | {shown} | {len(split)} |")
    summary = localized(
        lang,
        f"A vocabulary of {size:,} subwords, learned from chapters 1 to {chapters} in both languages.",
        f"从第 1 至 {chapters} 章的中英文页面学到的词表，共 {size:,} 个子词。",
    )
    return "\n".join(rows) + f"\n\n{summary}"


@dataclass(frozen=True)
class BeamResult:
    """Beam search on the test numbers, one beam size and one direction.

    Attributes:
        direction: ``"en-zh"`` or ``"zh-en"``.
        beam_size: Hypotheses kept per sentence (1: greedy decoding).
        exact_match: Fraction of the test numbers translated exactly.
        seconds: Time to translate them all, in one batch.
    """

    direction: str
    beam_size: int
    exact_match: float
    seconds: float


def beam_results(n: int = 2000, **recipe: int | float) -> list[BeamResult]:
    """Exact match and time of each beam size of ``BEAM_SIZES`` on ``n`` test numbers, computed once and cached.

    Args:
        n: Test numbers per direction (``NumberTask.held_out``).
        **recipe: ``NumberTask`` fields of the models (default: the command line's recipe).

    Returns:
        One result per direction and beam size.
    """
    models = {direction: run_key(NumberTask(direction, **recipe)) for direction in DIRECTIONS}
    key = json.dumps(
        {"models": models, "n": n, "beams": BEAM_SIZES, "code": training_code_digest(TRAINING_CODE)}, sort_keys=True
    )
    path = cache_dir() / f"beams-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if path.is_file():
        return [BeamResult(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
    results = []
    for direction in DIRECTIONS:
        task = NumberTask(direction, **recipe)
        model = cached_number_model(direction, **recipe)
        numbers = task.held_out(n)
        references = [task.target_text(k) for k in numbers]
        for beam_size in BEAM_SIZES:
            start = time.perf_counter()
            outputs = task.translate(model, numbers, beam_size)
            seconds = time.perf_counter() - start
            hits = sum(out == ref for out, ref in zip(outputs, references, strict=True))
            results.append(BeamResult(direction, beam_size, round(hits / n, 4), round(seconds, 2)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([dataclasses.asdict(r) for r in results]), encoding="utf-8")
    return results


def beam_table(lang: str = "en", n: int = 2000, **recipe: int | float) -> str:
    """``beam_results(n, **recipe)`` as a Markdown table: exact match and time per beam size, per direction."""
    results = beam_results(n, **recipe)
    header = localized(
        lang,
        "| beam size | en → zh exact match | en → zh time | zh → en exact match | zh → en time |",
        "| 束宽 | 英 → 中 完全匹配率 | 英 → 中 用时 | 中 → 英 完全匹配率 | 中 → 英 用时 |",
    )
    rows = [header, "|---:|---:|---:|---:|---:|"]
    greedy = {r.direction: r.seconds for r in results if r.beam_size == 1}
    for beam_size in BEAM_SIZES:
        cells = []
        for direction in DIRECTIONS:
            (r,) = (r for r in results if r.direction == direction and r.beam_size == beam_size)
            times = r.seconds / greedy[direction]
            ratio = localized(lang, f"{times:.1f}× greedy", f"贪心解码的 {times:.1f} 倍")
            cells += [f"{100 * r.exact_match:.2f} %", f"{r.seconds:.1f} s ({ratio})"]
        rows.append(f"| {beam_size} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def cross_attention(model: EncoderDecoder, direction: str, number: int) -> tuple[list[str], list[str], Tensor]:
    """The cross-attention of every decoder layer and head while the model writes its own translation of ``number``.

    The model translates greedily; then its translation is fed back with teacher forcing, and each decoder layer's
    cross-attention weights are kept. Row ``i`` is the decoder position that writes output token ``i``.

    Args:
        model: A model trained on ``direction``.
        direction: ``"en-zh"`` or ``"zh-en"``.
        number: The number to translate.

    Returns:
        ``(source tokens, output tokens, weights)``: the source with ``<s>`` and ``</s>``, the output ending with
        ``</s>``, and the weights, shape ``(N, h, len(output), len(source))``, each row summing to 1.
    """
    task = NumberTask(direction)
    source, target = task.vocabs
    text = task.source_text(number)
    (translation,) = task.translate(model, [number])
    src = source.encode(text).unsqueeze(0)  # (1, src_len)
    ids = target.encode(translation).unsqueeze(0)  # (1, out_len + 2): <s> ... </s>
    tgt = ids[:, :-1]  # what the decoder reads; it writes ids[:, 1:]
    modules = [layer.src_attn for layer in model.decoder.layers]
    try:
        for module in modules:
            module.keep_attn = True
        with torch.no_grad():
            model(src, tgt, padding_mask(src, PAD), subsequent_mask(tgt.size(1)))
        weights = torch.stack([module.attn[0] for module in modules])  # (N, h, tgt_len, src_len)
    finally:
        for module in modules:
            module.keep_attn = False
            module.attn = None
    source_tokens = [SPECIALS[1], *source.split(text), SPECIALS[2]]
    output_tokens = [*target.split(translation), SPECIALS[2]]
    return source_tokens, output_tokens, weights


def cross_attention_figure(lang: str = "en", number: int = FIGURE_NUMBER) -> Figure:
    """One trained head per direction, for ``number``: which source tokens each output token reads.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        number: The number shown.

    Returns:
        The figure, a heat map per direction (the heads of ``FIGURE_HEADS``).
    """
    fig = new_figure(10.0, 5.4)
    axes = fig.subplots(1, 2, width_ratios=[1.5, 1])
    for ax, direction in zip(axes, DIRECTIONS, strict=True):
        layer, head = FIGURE_HEADS[direction]
        sources, outputs, weights = cross_attention(cached_number_model(direction), direction, number)
        image = ax.imshow(weights[layer, head].numpy(), cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(sources)), sources, rotation=90, fontsize=8)
        ax.set_yticks(range(len(outputs)), outputs, fontsize=8)
        ax.set_xlabel(localized(lang, "source token", "源词元"), fontsize=9)
        ax.set_ylabel(localized(lang, "output token being written", "正在写出的输出词元"), fontsize=9)
        title = localized(
            lang,
            f"{direction.replace('-', ' → ')}, layer {layer}, head {head}",
            f"{ {'en-zh': '英 → 中', 'zh-en': '中 → 英'}[direction] }，第 {layer} 层第 {head} 个头",
        )
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=list(axes), shrink=0.6, label=localized(lang, "attention weight", "注意力权重"))
    return fig


def explorer_examples(**recipe: int | float) -> list[tuple[str, int]]:
    """The explorer's ``(direction, number)`` pairs: ``SHOWCASE``, then the first two of the 2,000 test numbers
    that the model gets wrong, if any; one direction, then the other.

    Args:
        **recipe: ``NumberTask`` fields of the models (default: the command line's recipe).
    """
    pairs = []
    for direction in DIRECTIONS:
        task = NumberTask(direction, **recipe)
        numbers = task.held_out(2000)
        outputs = task.translate(cached_number_model(direction, **recipe), numbers)
        wrong = [k for k, out in zip(numbers, outputs, strict=True) if out != task.target_text(k)]
        pairs += [(direction, number) for number in (*SHOWCASE, *wrong[:2])]
    return pairs


def explorer_data(**recipe: int | float) -> dict:
    """What the attention explorer draws: for each example, its tokens and every layer's and head's weights.

    Weights are whole percentages (0 to 100), which keeps the page small and is as fine as the eye reads them.

    Args:
        **recipe: ``NumberTask`` fields of the models (default: the command line's recipe).

    Returns:
        A dictionary of the model's ``layers`` and ``heads`` and of its ``examples``, one dictionary each, with
        ``direction``, ``number``, ``label``, ``correct``, ``source``, ``output`` and ``weights``. The weight of
        output token ``i`` on source token ``j`` in a layer and head is ``weights[layer][head][i][j]``.
    """
    examples = []
    models = {direction: cached_number_model(direction, **recipe) for direction in DIRECTIONS}
    for direction, number in explorer_examples(**recipe):
        sources, outputs, weights = cross_attention(models[direction], direction, number)
        task = NumberTask(direction)
        correct = outputs[:-1] == task.vocabs[1].split(task.target_text(number))
        examples.append(
            {
                "direction": direction,
                "number": number,
                "label": f"{number:,}",
                "correct": correct,
                "source": sources,
                "output": outputs,
                "weights": (weights * 100).round().int().tolist(),
            }
        )
    model = models[DIRECTIONS[0]]
    return {"layers": len(model.decoder.layers), "heads": model.decoder.layers[0].src_attn.h, "examples": examples}


def explorer_html(lang: str = "en", **recipe: int | float) -> str:
    """The attention explorer: its data as JSON in a ``<figure>``, which ``docs/assets/attention-explorer.js`` draws.

    Args:
        lang: Language of the caption, ``"en"`` or ``"zh"`` (the script takes its labels from the page).
        **recipe: ``NumberTask`` fields of the models (default: the command line's recipe).

    Returns:
        The HTML of the figure.
    """
    data = json.dumps(explorer_data(**recipe), ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    caption = localized(
        lang,
        "The cross-attention of the chapter's two models, for every layer and head. Rows are the tokens the model "
        "wrote, columns the tokens it read; point at, tap or tab to a token.",
        "本章两个模型的交叉注意力，每一层、每个头都有。行是模型写出的词元，列是它读入的词元；把鼠标移到词元上、轻点它，"
        "或者用 Tab 键选中它。",
    )
    return (
        '<figure class="attention-explorer">'
        f'<script type="application/json">{data}</script>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def memory_damage(model: EncoderDecoder, direction: str, number: int) -> tuple[list[str], list[str], Tensor]:
    """With teacher forcing, the probability of each correct output token when one memory position is zeroed.

    As chapter 6's ``corrupted_memory_predictions``, on a number sentence: the decoder reads the reference
    translation, and for each source position ``j`` the memory vector ``j`` is set to 0.

    Args:
        model: A model trained on ``direction``.
        direction: ``"en-zh"`` or ``"zh-en"``.
        number: The number to translate.

    Returns:
        ``(source tokens, output tokens, probabilities)``: the probabilities have shape ``(src_len + 1,
        out_len)``, row 0 with nothing damaged and row ``j + 1`` with memory position ``j`` zeroed.
    """
    task = NumberTask(direction)
    source, target = task.vocabs
    src = source.encode(task.source_text(number)).unsqueeze(0)  # (1, src_len)
    ids = target.encode(task.target_text(number)).unsqueeze(0)  # (1, out_len + 1)
    tgt, wanted = ids[:, :-1], ids[:, 1:]
    src_mask, tgt_mask = padding_mask(src, PAD), subsequent_mask(tgt.size(1))
    rows = []
    with torch.no_grad():
        memory = model.encode(src, src_mask)  # (1, src_len, d_model)
        for j in range(-1, src.size(1)):
            damaged = memory.clone()
            if j >= 0:
                damaged[:, j] = 0.0
            log_probs = model.generator(model.decode(damaged, src_mask, tgt, tgt_mask))  # (1, out_len, vocab)
            rows.append(log_probs[0].gather(-1, wanted[0].unsqueeze(-1)).squeeze(-1).exp())
    sources = [SPECIALS[1], *source.split(task.source_text(number)), SPECIALS[2]]
    outputs = [*target.split(task.target_text(number)), SPECIALS[2]]
    return sources, outputs, torch.stack(rows)


def memory_damage_figure(lang: str = "en", direction: str = "en-zh", number: int = FIGURE_NUMBER) -> Figure:
    """Zero one memory vector of a number sentence at a time: which output tokens does the model lose?

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        direction: Which model.
        number: The number translated.

    Returns:
        The figure.
    """
    task = NumberTask(direction)
    sources, outputs, probs = memory_damage(cached_number_model(direction), direction, number)
    fig = new_figure(6.4, 6.0)
    ax = fig.add_subplot()
    image = ax.imshow(probs.numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    intact = localized(lang, "(nothing zeroed)", "（不清零）")
    ax.set_yticks(range(len(sources) + 1), [intact, *sources], fontsize=8)
    ax.set_xticks(range(len(outputs)), outputs, fontsize=9)
    ax.set_ylabel(
        localized(lang, "zeroed memory position (its source token)", "被清零的记忆位置（其源词元）"), fontsize=9
    )
    ax.set_xlabel(localized(lang, "the correct output token", "正确的输出词元"), fontsize=9)
    ax.set_title(
        localized(
            lang,
            f"{task.source_text(number)}\nprobability of the correct token after the damage",
            f"{task.source_text(number)}\n损坏记忆后，正确词元得到的概率",
        ),
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
