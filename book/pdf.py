"""The book as one PDF per language: ``python -m book.pdf`` (``make pdf``).

mkdocs-print-site-plugin joins the pages of the navigation into one print page, but with mkdocs-static-i18n it
prints only the default language. So each language is built on its own, from a configuration generated here that
inherits ``mkdocs.yml``, builds only that language (the i18n plugin's ``build_only_locale``, which makes it the
default) and adds the print page; then headless Chromium opens the print page, lets KaTeX typeset the formulas and
prints it, with page numbers in the footer and the headings as the PDF's outline (its bookmarks).

The PDF holds the home page, the chapters, the Performance page and the glossary, in the order of the navigation;
the API reference stays on the site and in the offline copy. ``docs/assets/print.css``, linked by this build only,
wraps long code lines instead of cutting them at the edge of the paper.

The offline copy (``book/offline.py``) is built the same way, from a configuration that inherits ``mkdocs.yml``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mkdocs.plugins import event_priority
from mkdocs.utils.yaml import yaml_load

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "mkdocs.yml"
LANGUAGES = ("en", "zh")  # the default language (at the site's root) first
# Pages of the navigation left out of the PDF (print-site's ``exclude`` patterns, relative to docs/).
NOT_PRINTED = ("api/*",)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# The table of contents' title in each language (the plugin's default is English).
CONTENTS = {"en": "Contents", "zh": "目录"}
# What a print build does without: the notebooks and their download buttons are not printed, figures stay inside the
# page (as their blocks print them) instead of lazy-loaded files the print might not wait for, and nobody searches
# a PDF (the search hook needs the search plugin; together they cost a Chinese build its jieba segmentation).
PRINT_DROPS = {"hooks": ("notebooks.py", "figure_files.py", "search_index.py"), "plugins": ("search",)}
COVER_PAGE = """\
<div class="book-cover">
  <h1>{{ config.site_name }}</h1>
  <p>{{ config.site_description }}</p>
  <p>{{ config.copyright }}</p>
</div>
"""
FOOTER = (
    '<div style="width: 100%; font-size: 9px; text-align: center; color: #555;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
# The print waits for every formula to be typeset and every figure to be loaded.
READY = """() =>
  !document.querySelector(".arithmatex:not(:has(.katex))")
  && [...document.images].every((image) => image.complete && image.naturalWidth > 0)
"""
# What the print shows, measured on the page laid out for paper: formulas typeset, figures, and the code blocks
# wider than the paper (their first line), which would be cut at its edge.
MEASURE = """() => ({
  formulas: document.querySelectorAll(".arithmatex .katex").length,
  figures: document.querySelectorAll(".book-figure img, .book-figure svg").length,
  cut_code: [...document.querySelectorAll(".md-typeset pre > code")]
    .filter((code) => code.scrollWidth > code.clientWidth + 1)
    .map((code) => code.textContent.split("\\n")[0]),
})"""
# A link to a page the PDF does not hold (the API reference) would point at the local server the print was made from:
# it points at the published site instead (mkdocs.yml's site_url; the language's folder there).
LINKS_TO_SITE = """([local, site]) => {
  for (const link of document.querySelectorAll("a[href]")) {
    const url = new URL(link.getAttribute("href"), location.href);
    if (url.href.startsWith(local) && url.pathname !== location.pathname) {
      link.href = site + url.href.slice(local.length);
    }
  }
}"""
# The data a page carries for its scripts (chapter 9's attention explorer): JSON on one line, with no space in it.
JSON_SCRIPT = re.compile(r'(<script type="application/json"[^>]*>)(.*?)(</script>)', re.DOTALL)
# A4's width less the margins (14 mm each side), in CSS pixels: the width the page is laid out at for measuring.
PAPER_WIDTH_PX = round((210 - 2 * 14) / 25.4 * 96)


@dataclass(frozen=True)
class PrintedBook:
    """A PDF and what its print page held when it was printed (``None``: not measured, as for a PDF built before).

    Attributes:
        pdf: The PDF file.
        formulas: Formulas typeset by KaTeX.
        figures: Figures (images and inline SVG).
        cut_code: The first line of each code block wider than the paper (none, when the print CSS wraps them).
    """

    pdf: Path
    formulas: int | None = None
    figures: int | None = None
    cut_code: list[str] = field(default_factory=list)


@event_priority(50)  # before print-site's on_page_content (priority 0), which keeps the page's HTML for the print
def on_page_content(html: str, **kwargs: Any) -> str:
    """A hook of the print build: write ``<`` inside a page's JSON scripts as ``\\u003c``, which parses the same.

    print-site finds each heading's ``id`` with the pattern ``<([^\\s]+).*?id="``: from a ``<`` in a long line with
    no space, such as the explorer's tokens ``"<s>"`` in its 40 kB of JSON, it backtracks through the whole line at
    every step, and the Chinese print page took more than 25 minutes to build (0.7 s with the ``<`` escaped).
    """
    return JSON_SCRIPT.sub(lambda match: match[1] + match[2].replace("<", "\\u003c") + match[3], html)


def pdf_name(lang: str) -> str:
    """The file name of a language's PDF, as the home page links it: ``transformer-book.en.pdf``."""
    return f"transformer-book.{lang}.pdf"


@functools.cache
def parent_config() -> dict[str, Any]:
    """``mkdocs.yml`` as mkdocs reads it (its ``!!python`` tags resolved)."""
    with CONFIG.open("rb") as file:
        return yaml_load(file)


def inherited_config(
    folder: Path,
    name: str,
    *,
    lang: str | None = None,
    plugins: tuple[Any, ...] = (),
    hooks: tuple[Path, ...] = (),
    drop: dict[str, tuple[str, ...]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a configuration that inherits ``mkdocs.yml`` and changes only what a variant of the site needs.

    mkdocs merges a configuration into the one it inherits key by key but replaces lists whole, so the plugins and
    hooks are written out in full, from ``mkdocs.yml``'s. Paths are absolute: the file is written outside the
    repository, so that builds running at once never share it.

    Args:
        folder: Where to write the configuration.
        name: Its file name, without ``.yml``.
        lang: Build only this language, as the site's default (at the root); ``None`` builds every language.
        plugins: Plugins added after ``mkdocs.yml``'s, as a configuration lists them.
        hooks: Hooks added after ``mkdocs.yml``'s.
        drop: ``{"hooks": file names, "plugins": plugin names}`` of ``mkdocs.yml`` that this variant leaves out.
        extra: Other keys, merged over ``mkdocs.yml``'s (a list replaces the list, a mapping merges).

    Returns:
        The configuration's path, for ``mkdocs build --config-file``.

    Raises:
        ValueError: If ``lang`` is not one of the site's languages.
    """
    parent = parent_config()
    drop = drop or {}
    listed: list[Any] = []
    for plugin in parent["plugins"]:
        plugin_name, options = next(iter(plugin.items())) if isinstance(plugin, dict) else (plugin, None)
        if plugin_name in drop.get("plugins", ()):
            continue
        if plugin_name == "i18n" and lang is not None:
            locales = [language["locale"] for language in options["languages"]]
            if lang not in locales:
                raise ValueError(f"lang: expected one of {locales}, got {lang!r}")
            options = {**options, "build_only_locale": lang}
        listed.append({plugin_name: options} if options is not None else plugin_name)
    kept = [str(ROOT / hook) for hook in parent.get("hooks", []) if Path(hook).name not in drop.get("hooks", ())]
    child = {
        "INHERIT": str(CONFIG),
        "docs_dir": str(ROOT / parent.get("docs_dir", "docs")),
        "theme": {"custom_dir": str(ROOT / parent["theme"]["custom_dir"])},
        "hooks": [*kept, *map(str, hooks)],
        "plugins": [*listed, *plugins],
        **(extra or {}),
    }
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(child, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def mkdocs_build(config: Path, site: Path) -> None:
    """``mkdocs build --strict`` of a generated configuration, run from the repository's root as the site's is.

    Args:
        config: The configuration (``inherited_config``).
        site: The folder to build into.

    Raises:
        RuntimeError: If the build fails; the message ends with the build's last lines.
    """
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"mkdocs build of {config.name} failed:\n{(result.stdout + result.stderr)[-4000:]}")


def build_print_site(lang: str, site: Path, work: Path) -> Path:
    """Build one language's site with its print page.

    Args:
        lang: The language, one of ``LANGUAGES``.
        site: The folder to build into.
        work: A folder for the generated configuration and cover page.

    Returns:
        The print page, ``print_page/index.html`` under ``site``.
    """
    cover = work / "cover.tpl"
    cover.write_text(COVER_PAGE, encoding="utf-8")
    print_site = {
        "print-site": {
            "print_page_title": "",
            "toc_title": CONTENTS[lang],
            "toc_depth": 2,
            "enumerate_headings": False,  # the chapters number themselves ("5. Attention")
            "enumerate_figures": False,
            "add_cover_page": True,
            "cover_page_template": str(cover),
            "exclude": list(NOT_PRINTED),
        }
    }
    extra_css = [*parent_config().get("extra_css", []), "assets/print.css"]
    config = inherited_config(
        work,
        f"mkdocs-pdf-{lang}",
        lang=lang,
        plugins=(print_site,),
        hooks=(Path(__file__),),
        drop=PRINT_DROPS,
        extra={"extra_css": extra_css},
    )
    mkdocs_build(config, site)
    return site / "print_page" / "index.html"


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder over HTTP on 127.0.0.1, on a free port, while the block runs.

    Args:
        folder: The folder to serve.

    Yields:
        The root URL, ending with ``/``.
    """

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: a request that fails shows in the browser, which print_pdf watches."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def print_pdf(url: str, pdf: Path, root: str, site_url: str) -> PrintedBook:
    """Print a page to PDF in headless Chromium once its formulas are typeset and its figures loaded.

    Args:
        url: The page's address.
        pdf: The file to write.
        root: The address of the built site's root, which ``url`` is under.
        site_url: Where that site is published: links to its pages the print does not hold go there.

    Returns:
        The PDF, with what the page held (measured laid out for paper, the print CSS applied).

    Raises:
        RuntimeError: If the page logs an error or a request fails: the PDF would miss what it was for.
    """
    from playwright.sync_api import sync_playwright  # the test extra's; only printing needs it

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": PAPER_WIDTH_PX, "height": 1000})
            page.emulate_media(media="print")
            page.on("console", lambda message: message.type == "error" and problems.append(message.text))
            page.on("requestfailed", lambda request: problems.append(f"{request.url}: {request.failure}"))
            page.goto(url, wait_until="load")
            page.wait_for_function(READY, timeout=300_000)
            if problems:
                raise RuntimeError(f"{url}: " + "; ".join(problems))
            measured = page.evaluate(MEASURE)
            page.evaluate(LINKS_TO_SITE, [root, site_url])
            pdf.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
                margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                outline=True,
                tagged=True,
            )
        finally:
            browser.close()
    return PrintedBook(pdf, **measured)


def build_pdfs(out: Path, languages: tuple[str, ...] = LANGUAGES) -> list[PrintedBook]:
    """Build the PDF of each language, ``transformer-book.<lang>.pdf``, into a folder.

    Args:
        out: The folder for the PDFs (created if missing).
        languages: The languages to print.

    Returns:
        The PDFs, in the order of ``languages``.
    """
    books = []
    with tempfile.TemporaryDirectory(prefix="transformer-book-pdf-") as temporary:
        work = Path(temporary)
        for lang in languages:
            site = work / f"site-{lang}"
            page = build_print_site(lang, site, work)
            published = parent_config()["site_url"] + ("" if lang == LANGUAGES[0] else f"{lang}/")
            with serve(site) as root:
                url = root + page.parent.relative_to(site).as_posix() + "/"
                books.append(print_pdf(url, out / pdf_name(lang), root, published))
    return books


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m book.pdf [--out DIR] [--lang en zh]``."""
    parser = argparse.ArgumentParser(prog="python -m book.pdf", description="Print the book to one PDF per language.")
    parser.add_argument("--out", type=Path, default=ROOT / "site" / "pdf", help="folder for the PDFs (site/pdf)")
    parser.add_argument("--lang", nargs="+", choices=LANGUAGES, default=list(LANGUAGES), help="languages to print")
    args = parser.parse_args(argv)
    for book in build_pdfs(args.out, tuple(args.lang)):
        print(f"{book.pdf}: {book.pdf.stat().st_size / 1e6:.1f} MB, {book.formulas} formulas, {book.figures} figures")
        for line in book.cut_code:
            print(f"  a code block wider than the paper: {line}")


if __name__ == "__main__":
    main()
