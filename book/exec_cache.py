"""mkdocs hook: reuse the HTML of figure blocks whose code and package have not changed.

Every figure is drawn by a ```` ```python exec="on" html="1" ```` block (markdown-exec) when the site is built;
drawing them all takes most of a build. This hook wraps markdown-exec's formatter: the HTML a figure block
printed is stored in ``.cache/exec/`` under a hash of the block, its options, the source of every module of this
repository the block imports (``book.digest``: the figure's module, the package modules it runs), the versions of
torch and matplotlib and the arithmetic (``book.numerics``). A rebuild after an edit of one page (``mkdocs serve``)
then redraws nothing, and a change to a module redraws only the figures that use it. Only output that is a figure is
stored: a block that failed prints its error instead, which is never cached. The first figure a build has
to draw also starts ``book.pretrain``'s helper, which trains the chapters' models on another core.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from book.numerics import arithmetic, pin

pin()  # before torch is imported: torch's AVX2 kernels, as in the tests (book.numerics)

import matplotlib  # noqa: E402
import torch  # noqa: E402

from book import pretrain  # noqa: E402
from book.digest import ROOT, code_digest  # noqa: E402

CACHE = ROOT / ".cache" / "exec"


def _cached(format_block: Callable[..., str], versions: str) -> Callable[..., str]:
    def format_or_reuse(source: str, language: str, css_class: str, options: dict[str, Any], md: Any, **kw: Any) -> str:
        if not options.get("html"):  # the validator only lets executed blocks through
            return format_block(source, language, css_class, options, md, **kw)
        shown = {k: v for k, v in options.items() if isinstance(v, str | int | float | bool)}
        code = code_digest(source)
        key = hashlib.sha256(json.dumps([versions, code, language, source, shown], sort_keys=True).encode()).hexdigest()
        path = CACHE / f"{key}.html"
        if path.is_file():
            return path.read_text(encoding="utf-8")
        pretrain.start_helper()  # a figure to draw: the models it needs may be missing too
        html = format_block(source, language, css_class, options, md, **kw)
        if html.lstrip().startswith("<figure"):
            CACHE.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{id(html)}.tmp")
            partial.write_text(html, encoding="utf-8")
            partial.replace(path)  # atomic: concurrent builds never read half a file
        return html

    return format_or_reuse


def on_config(config: Any) -> Any:
    """Use one thread, as the tests do (conftest.py), and wrap markdown-exec's ``python`` formatter with the cache."""
    torch.set_num_threads(1)  # the tests' training runs, hence their figures (book.numerics)
    versions = f"{torch.__version__} {matplotlib.__version__} {json.dumps(arithmetic(), sort_keys=True)}"
    for fence in config["mdx_configs"]["pymdownx.superfences"]["custom_fences"]:
        if fence["name"] == "python" and not getattr(fence["format"], "__wrapped_by_exec_cache__", False):
            fence["format"] = _cached(fence["format"], versions)
            fence["format"].__wrapped_by_exec_cache__ = True
    return config


def on_post_build(config: Any) -> None:
    """Stop the helper that trains the models (``book.pretrain``): the build has all it needed."""
    pretrain.stop_helper()
