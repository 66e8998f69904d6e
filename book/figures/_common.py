"""What every figure shares: the matplotlib set-up, the HTML it is embedded as, and a cached trained model."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display at build time

import matplotlib.pyplot as plt
import torch
from filelock import FileLock
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from book.digest import code_digest
from book.numerics import arithmetic
from transformer.checkpoints import load_model, save_model
from transformer.model import EncoderDecoder
from transformer.tasks import CopyTask

plt.rcParams.update(
    {
        # Chinese labels fall back to a CJK font (Debian's fonts-wqy-microhei, installed by `make setup`).
        "font.family": ["DejaVu Sans", "WenQuanYi Micro Hei"],
        "svg.fonttype": "none",  # text stays text: smaller files, searchable, crisp at any zoom
        "svg.hashsalt": "transformer-book",  # the same figure gives the same bytes on every build
        "axes.unicode_minus": False,
        "figure.dpi": 100,
    }
)


LANGS = ("en", "zh")


def localized(lang: str, en: str, zh: str) -> str:
    """``en`` or ``zh``, whichever ``lang`` asks for: the label of a figure in its page's language.

    Raises:
        ValueError: If ``lang`` is not ``"en"`` or ``"zh"``.
    """
    if lang not in LANGS:
        raise ValueError(f"lang: expected one of {LANGS}, got {lang!r}")
    return zh if lang == "zh" else en


def new_figure(width: float = 6.0, height: float = 4.0) -> Figure:
    """A blank figure of ``width`` x ``height`` inches, not registered with pyplot (nothing to close)."""
    return Figure(figsize=(width, height), layout="constrained")


def layer_frame(x: float, y: float, width: float, height: float) -> FancyBboxPatch:
    """The dashed grey frame that groups the boxes of one layer (repeated N times) in the diagrams.

    Args:
        x: Left edge, in data coordinates.
        y: Bottom edge.
        width: Width.
        height: Height.

    Returns:
        The patch, for ``ax.add_patch``.
    """
    return FancyBboxPatch(
        (x, y),
        width,
        height,
        boxstyle="round,pad=0.05,rounding_size=0.3",
        facecolor="#f5f5f5",
        edgecolor="#90a4ae",
        linewidth=1.0,
        linestyle="--",
        zorder=0,
    )


def figure_html(fig: Figure, alt: str) -> str:
    """The figure as an SVG ``<img>`` with alt text, ready to be printed into a page.

    Args:
        fig: The figure.
        alt: What the figure shows, in the page's language, for readers who cannot see it.

    Returns:
        An HTML ``<figure>`` element holding the SVG as a ``data:`` URI (no file to serve, nothing to fetch).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(alt, quote=True)
    return f'<figure class="book-figure"><img src="data:image/svg+xml;base64,{data}" alt="{alt}"></figure>'


def training_code_digest(code: str = "from transformer.tasks import CopyTask") -> str:
    """A hash of torch's version and of the package modules that a training run imports.

    A cached run (a model, a loss curve) is reused only while this is unchanged: a recipe is not enough, since a change
    to the loss or to a layer trains a different model from the same recipe. The modules are those ``code`` imports,
    followed through their own imports (``book.digest``): for the copy task, the task, the training loop, the model
    and its layers, but not the command line or the number task, which the run never executes.

    Args:
        code: The imports of the run, e.g. ``"from transformer.numbers import NumberTask"``.
    """
    return hashlib.sha256(f"{torch.__version__} {code_digest(code)}".encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """Where trained models for figures are kept: ``$TRANSFORMER_BOOK_CACHE`` or ``./.cache/transformer-book``."""
    return Path(os.environ.get("TRANSFORMER_BOOK_CACHE", Path.cwd() / ".cache" / "transformer-book"))


@contextmanager
def training_lock(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock while a cached run is looked up and, if missing, trained and saved.

    Two processes that need the same run at once (the test workers of ``make test``, or ``mkdocs serve`` and the
    tests) then train it once: the second waits, and finds it in the cache.

    Args:
        path: The run's file in the cache, without its suffix or with it; the lock is ``path`` with ``.lock``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_suffix(".lock")):
        yield


def cached_copy_model(
    V: int = 11,  # noqa: N803 (the copy task's name)
    seq_len: int = 10,
    steps: int = 400,
    seed: int = 0,
    **model_kwargs: int | float | bool,
) -> EncoderDecoder:
    """A model trained on the copy task, trained once and then loaded from the cache.

    The recipe is 64 rows per batch with the paper's schedule (``CopyTask`` with ``batch_size=64, factor=1.0,
    cooldown=0``); the Annotated Transformer's copy example uses 30 rows (2018) and 80 (2022). The cache key covers
    every argument and the training code (``training_code_digest``), so changing either retrains.
    Training is seeded, so the same arguments and the same arithmetic (``book.numerics``) give the same model.

    Args:
        V: Vocabulary size of the copy task.
        seq_len: Length of each training row, start symbol included.
        steps: Optimizer steps.
        seed: Seed of the weights and the data.
        **model_kwargs: ``CopyTask`` fields for the model (defaults: ``N=2, d_model=64, d_ff=128, h=4,
            dropout=0.0``).

    Returns:
        The trained model, in ``eval()`` mode.
    """
    task = CopyTask(
        vocab=V, seq_len=seq_len, steps=steps, seed=seed, batch_size=64, factor=1.0, cooldown=0.0, **model_kwargs
    )
    # The arithmetic (threads, kernels, the CPU's maker) changes float sums, hence the run: it is part of the recipe.
    recipe = json.dumps(
        {**dataclasses.asdict(task), "arithmetic": arithmetic(), "code": training_code_digest()}, sort_keys=True
    )
    path = cache_dir() / f"copy-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.safetensors"
    with training_lock(path):
        if path.is_file():
            return load_model(path)
        model = task.build_model()
        for _ in task.train(model):
            pass
        save_model(model, path)
    return model.eval()
