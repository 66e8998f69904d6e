"""Figures for the book, drawn by the package from real tensors and real training runs.

Each figure function returns a matplotlib ``Figure``; ``figure_html`` turns it into an ``<img>`` with alt text,
which the pages print from a build-time code block (markdown-exec). Nothing in the package imports this
subpackage: it needs matplotlib, which only the ``docs`` extra installs.
"""

from book.figures._common import cached_copy_model, figure_html, new_figure

__all__ = ["cached_copy_model", "figure_html", "new_figure"]
