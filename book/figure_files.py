"""mkdocs hook: each figure as its own SVG file, loaded when the reader scrolls to it.

``book.figures.figure_html`` prints a figure as an ``<img>`` whose SVG is inlined as a base64 ``data:`` URI:
the page and its pictures are one file, which keeps the figure blocks and their cache simple. Served that way, a
chapter with a dozen figures is a 400 KB page that the reader downloads in full before the first line shows, a
third of it base64's overhead. This hook, run on each built page, writes every such SVG to
``assets/figures/<hash>.svg`` (one file per distinct figure, shared by pages that show it) and points the ``<img>``
at it with ``loading="lazy"`` and the figure's size, so the text lays out at once and only the figures on screen
are fetched.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from mkdocs.utils import get_relative_url

DATA_IMAGE = re.compile(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
SVG_SIZE = re.compile(rb'<svg[^>]*?\swidth="([\d.]+)pt"[^>]*?\sheight="([\d.]+)pt"')
PX_PER_PT = 4 / 3


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Move the page's inline SVG figures to files; the ``<img>`` keeps its alt text and class."""
    folder = Path(config.site_dir) / "assets" / "figures"

    def to_file(match: re.Match[str]) -> str:
        svg = base64.b64decode(match[1])
        name = f"{hashlib.sha256(svg).hexdigest()[:20]}.svg"
        path = folder / name
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{id(match)}.tmp")
            partial.write_bytes(svg)
            partial.replace(path)  # atomic: a page built at the same time never reads half a file
        src = get_relative_url(f"assets/figures/{name}", page.url)
        size = SVG_SIZE.search(svg)
        # The drawn size reserves the figure's box before it loads (book.css scales it to the text's width).
        dimensions = f' width="{round(float(size[1]) * PX_PER_PT)}" height="{round(float(size[2]) * PX_PER_PT)}"'
        return f'<img src="{src}"{dimensions if size else ""} loading="lazy" decoding="async"'

    return DATA_IMAGE.sub(to_file, output)
