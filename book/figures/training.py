"""Figures of chapter 8: the learning-rate schedule and the loss curve of the chapter's training run."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from matplotlib.figure import Figure

from book.figures._common import cache_dir, localized, new_figure, training_code_digest
from book.numerics import arithmetic
from transformer.tasks import CopyTask
from transformer.training import StepStats, rate

# The run chapter 8 trains in the page: rows of random length ending in EOS, one layer, d_model = 32, the paper's
# schedule with 100 warm-up steps, 300 steps of 64 rows, seed 3 (with one thread, the seeds 0-9 copy 67.6-100 % of
# the rows never seen in training, seed 3 95.1 %; chapter 8 says so). ``cached_copy_model(steps=300, N=1,
# d_model=32, d_ff=64, end_symbol=True, seed=3)`` trains the same model.
CHAPTER_TASK = CopyTask(
    end_symbol=True, steps=300, batch_size=64, warmup=100, factor=1.0, cooldown=0.0, N=1, d_model=32, d_ff=64, seed=3
)
# The settings of the paper (d_model = 512, 4000 warm-up steps) and two variations, for the schedule's shape.
PAPER_SCHEDULES = ((512, 4000), (512, 8000), (256, 4000))


def training_log(task: CopyTask = CHAPTER_TASK) -> list[StepStats]:
    """What every step of ``task``'s training reported, computed once and then read from the cache.

    Args:
        task: The training run.

    Returns:
        One ``StepStats`` per step.
    """
    # The arithmetic (threads, kernels, the CPU's maker: book.numerics) changes float sums, hence the run: it is part
    # of the key, with the training code (as in cached_copy_model).
    key = json.dumps(
        {**dataclasses.asdict(task), "arithmetic": arithmetic(), "code": training_code_digest()}, sort_keys=True
    )
    path = cache_dir() / f"log-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if path.is_file():
        return [StepStats(**row) for row in json.loads(path.read_text())]
    model = task.build_model()
    log = list(task.train(model))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([dataclasses.asdict(stats) for stats in log]))
    return log


def rate_schedule(lang: str = "en", task: CopyTask = CHAPTER_TASK) -> Figure:
    """The paper's learning rate: its shape at the paper's scale, and what ``LambdaLR`` gave the chapter's run.

    Left: ``rate`` over 20 000 steps for a few ``(d_model, warmup)`` pairs. Right: ``rate`` for ``task`` as a
    line, and the learning rate that each of its training steps actually used (``StepStats.lr``) as dots.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        task: The training run of the right panel.

    Returns:
        The figure, two panels.
    """
    log = training_log(task)
    fig = new_figure(9.0, 3.6)
    left, right = fig.subplots(1, 2)
    steps = range(1, 20001)
    for d_model, warmup in PAPER_SCHEDULES:
        label = f"d_model={d_model}, warmup={warmup}"
        left.plot(steps, [rate(s, d_model, 1.0, warmup) * 1000 for s in steps], label=label)
    left.set_xticks(range(0, 20001, 5000))
    left.set_xlabel(localized(lang, "step", "步数"))
    left.set_ylabel(localized(lang, "learning rate (× 10⁻³)", "学习率（× 10⁻³）"))
    left.set_title(localized(lang, "At the paper's scale", "论文的规模"), fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    formula = [rate(s, task.d_model, task.factor, task.warmup) * 1000 for s in range(len(log))]
    right.plot(
        range(1, len(log) + 1), formula, color="grey", label=localized(lang, "rate(step − 1, …)", "rate(step − 1, …)")
    )
    every = log[::10]
    right.plot(
        [s.step for s in every],
        [s.lr * 1000 for s in every],
        "o",
        markersize=3,
        color="#c62828",
        label=localized(lang, "lr used by the step (LambdaLR)", "这一步实际用的学习率（LambdaLR）"),
    )
    right.axvline(task.warmup, color="grey", linestyle=":", linewidth=1)
    right.set_xlabel(localized(lang, "step", "步数"))
    right.set_ylabel(localized(lang, "learning rate (× 10⁻³)", "学习率（× 10⁻³）"))
    right.set_title(
        localized(
            lang,
            f"This chapter: d_model={task.d_model}, warmup={task.warmup}",
            f"本章：d_model={task.d_model}，warmup={task.warmup}",
        ),
        fontsize=10,
    )
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    return fig


def loss_curve(lang: str = "en", task: CopyTask = CHAPTER_TASK) -> Figure:
    """The loss per token at every step of ``task``'s training, with its learning rate.

    Args:
        lang: Language of the labels, ``"en"`` or ``"zh"``.
        task: The training run.

    Returns:
        The figure.
    """
    log = training_log(task)
    fig = new_figure(6.8, 3.8)
    ax = fig.add_subplot()
    ax.semilogy([s.step for s in log], [s.loss for s in log], color="#1565c0", linewidth=1.2)
    ax.set_xlabel(localized(lang, "training step", "训练步数"))
    ax.set_ylabel(
        localized(lang, "loss per target token (log scale)", "每个目标词元的损失（对数坐标）"), color="#1565c0"
    )
    ax.grid(alpha=0.3)
    lr_axis = ax.twinx()
    lr_axis.plot([s.step for s in log], [s.lr * 1000 for s in log], color="grey", linestyle="--", linewidth=1)
    lr_axis.set_ylabel(localized(lang, "learning rate (× 10⁻³, dashed)", "学习率（× 10⁻³，虚线）"), color="grey")
    lr_axis.set_ylim(bottom=0)
    ax.set_title(
        localized(
            lang,
            f"Copy task: N={task.N}, d_model={task.d_model}, {task.steps} steps of {task.batch_size} rows",
            f"复制任务：N={task.N}，d_model={task.d_model}，{task.steps} 步，每步 {task.batch_size} 行",
        ),
        fontsize=10,
    )
    return fig
