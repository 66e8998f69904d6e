"""Train the book's models in a second process while the site is built.

A first build (a fresh clone, or a change to the package that re-keys the models) trains every model chapters 8 to 10
show, inside the build, one after another, on one core: about 24 minutes on the 2-core machine, with the other core
mostly idle. So when the build first has to draw a figure (``book.exec_cache``), it starts ``python -m book.pretrain
--reverse``, which trains the same runs in the opposite order. Both go through the same cached functions, hence the
same locks (``training_lock``): each model is trained once, by whichever process reaches it first, and the other finds
it in the cache (measured on an empty cache: every model trained after 13 minutes, not 24). The helper is stopped when
the build ends; a model it was training is then not saved (saves are atomic). A build that draws nothing starts no
helper; one that draws a figure but needs no new model costs the helper's reading of the cache, about 9 s of the other
core.

From the command line, ``python -m book.pretrain`` trains (or checks) them all in the chapters' order.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import subprocess
import sys
from collections.abc import Callable, Sequence

from book.numerics import pin

pin()  # before torch is imported, as the build does (book/exec_cache.py): the arithmetic is part of each run's key

import torch  # noqa: E402


def book_runs() -> list[Callable[[], object]]:
    """The models the build trains, in the order it reaches them (measured on an empty cache: pages and figures use
    the copy model, chapter 9's English-to-Chinese model and chapter 10's two models before chapter 9's other one)."""
    from book.figures._common import cached_copy_model
    from book.figures.descendants import BERT_TASK, cached_lm_run
    from book.figures.translation import cached_number_run

    return [
        cached_copy_model,
        functools.partial(cached_number_run, "en-zh"),
        cached_lm_run,
        functools.partial(cached_lm_run, BERT_TASK),
        functools.partial(cached_number_run, "zh-en"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Train every run of ``book_runs`` that is not cached yet (``--reverse``: the last first)."""
    parser = argparse.ArgumentParser(prog="python -m book.pretrain", description=__doc__.splitlines()[0])
    parser.add_argument("--reverse", action="store_true", help="the last chapter's runs first")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the build does: the threads are part of each run's cache key too
    runs = book_runs()
    for run in reversed(runs) if args.reverse else runs:
        run()


_helper: subprocess.Popen[bytes] | None = None


def start_helper() -> None:
    """Start ``python -m book.pretrain --reverse`` in the background, unless it is running already."""
    global _helper
    if _helper is None or _helper.poll() is not None:
        command = [sys.executable, "-m", "book.pretrain", "--reverse"]
        _helper = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # in the build's folder: the same cache
        atexit.unregister(stop_helper)  # once, however many builds (`mkdocs serve`) start one
        atexit.register(stop_helper)  # a build that fails ends without on_post_build


def stop_helper() -> None:
    """Stop the helper, if it runs."""
    if _helper is not None and _helper.poll() is None:
        _helper.terminate()
        _helper.wait()


if __name__ == "__main__":
    main()
