"""The book as one PDF per language: ``python -m book.pdf`` (``make pdf``).

mkdocs-print-site-plugin joins the pages of the navigation into one print page, but with mkdocs-static-i18n it
prints only the default language. So each language is built on its own, from a configuration generated here that
inherits ``mkdocs.yml``, builds only that language (the i18n plugin's ``build_only_locale``, which makes it the
default) and adds the print page; then headless Chromium opens the print page, lets KaTeX typeset the formulas and
prints it, with page numbers in the footer and the headings as the PDF's outline (its bookmarks). The two
languages build at once (two mkdocs processes), and the first prints while the second is still building.

The PDF holds the home page, the chapters, the Performance page and the glossary, in the order of the navigation;
the API reference stays on the site and in the offline copy. ``docs/assets/print.css``, linked by this build only,
wraps long code lines instead of cutting them at the edge of the paper, and a display formula or a table wider than
the paper gets a font just small enough to fit (``FIT_TO_PAPER``). What the print held is measured before it prints
(``PrintedBook``): formulas typeset, figures drawn, anything still wider than the paper, any form control left on
it; and the figures of the printed pages as the site shows them, which the tests find again in the PDF (tagged:
each figure with its alt text).

The offline copy (``book/offline.py``) is built the same way, from a configuration that inherits ``mkdocs.yml``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
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
# Nor does a figure on paper open full size: without this script an image is an image, not a button, and the tagged
# PDF holds it as a figure with its alt text.
PRINT_DROPS_JAVASCRIPT = ("figure-zoom.js",)
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
# A section of the navigation whose pages the PDF leaves out (the API reference) would print its title alone on the
# last page, and list it in the table of contents: both go.
DROP_EMPTY_SECTIONS = """() => {
  for (const section of document.querySelectorAll("section.print-page.md-section")) {
    if (section.querySelector("section.print-page")) continue;
    for (const link of document.querySelectorAll(`#print-page-toc a[href="#${section.id}"]`)) {
      link.closest("li").remove();
    }
    section.remove();
  }
}"""
# A display formula or a table wider than the text scrolls on screen, and paper would cut it: it gets a smaller font,
# just small enough to fit (KaTeX and material size everything inside in em), but no smaller than 70 % of its own,
# beyond which MEASURE reports it.
FIT_TO_PAPER = """() => {
  for (const element of document.querySelectorAll(".md-typeset .katex-display, .md-typeset table:not([class])")) {
    const box = element.closest(".md-typeset__scrollwrap") || element;
    const size = parseFloat(getComputedStyle(element).fontSize);
    for (let step = 0; step < 5 && box.scrollWidth > box.clientWidth; step++) {
      const current = parseFloat(getComputedStyle(element).fontSize);
      const smaller = Math.max((0.99 * current * box.clientWidth) / box.scrollWidth, 0.7 * size);
      if (smaller >= current) break;
      element.style.fontSize = `${smaller}px`;
    }
  }
}"""
# What the print shows, measured on the page laid out for paper: formulas typeset, figures drawn, what is wider than
# the paper and would be cut at its edge (a code block, by its first line; a table, a formula or a figure that
# overflows its box, which on paper clips it, or the paper itself), and the controls of an interactive figure that
# print media CSS should hide (on paper, empty boxes).
MEASURE = """() => {
  const text = (element) => element.textContent.trim().split("\\n")[0].slice(0, 80);
  const shown = (element) => {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    return box.width > 1 && box.height > 1 && style.visibility !== "hidden" && style.opacity !== "0";
  };
  const wider = (element) =>
    element.scrollWidth > element.clientWidth + 1 || element.getBoundingClientRect().right > innerWidth + 1;
  const blocks = {
    code: ".md-typeset pre > code",
    table: ".md-typeset table:not(.highlighttable)",
    formula: ".md-typeset .katex-display",
    figure: ".md-typeset .book-figure img, .md-typeset .book-figure svg",
  };
  const cut = [];
  for (const [kind, selector] of Object.entries(blocks)) {
    for (const element of document.querySelectorAll(selector)) {
      const box = kind === "table" ? element.closest(".md-typeset__scrollwrap") || element : element;
      if (wider(box)) cut.push(`${kind}: ${text(element) || element.getAttribute("alt") || ""}`);
    }
  }
  return {
    formulas: document.querySelectorAll(".arithmatex .katex").length,
    figures: [...document.querySelectorAll(".book-figure img, .book-figure svg")]
      .filter((figure) => figure.getBoundingClientRect().height > 0).length,
    cut,
    controls: [...document.querySelectorAll(".md-typeset :is(select, input, button, textarea)")]
      .filter(shown)
      .map((control) => `${control.tagName.toLowerCase()}.${control.className} in #${control.closest("[id]")?.id}`),
  };
}"""
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


@dataclasses.dataclass(frozen=True)
class PrintedBook:
    """A PDF and what its print page held when it was printed (``None``: not measured, as for a PDF built before).

    Attributes:
        pdf: The PDF file.
        formulas: Formulas typeset by KaTeX.
        figures: Figures drawn on the print page (images and inline SVG with a height).
        cut: What is wider than the paper, ``"<kind>: <its first line>"`` for a code block, table, formula or figure
            (none, when the print CSS wraps and shrinks them).
        controls: The form controls the print shows (``"select.<class> in #<id>"``): none, when the print CSS hides
            the interactive figures.
        page_figures: The alt text of each figure on the printed pages, as the site shows them (one built page
            each), in order.
        seconds: The time of each step: ``build`` (mkdocs), ``load`` (the print page), ``typeset`` (until every
            formula is typeset and every figure loaded), ``print`` (Chromium writing the PDF).
    """

    pdf: Path
    formulas: int | None = None
    figures: int | None = None
    cut: list[str] = dataclasses.field(default_factory=list)
    controls: list[str] = dataclasses.field(default_factory=list)
    page_figures: list[str] | None = None
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


@event_priority(50)  # before print-site's on_page_content (priority 0), which keeps the page's HTML for the print
def on_page_content(html: str, **kwargs: Any) -> str:
    """A hook of the print build: write ``<`` inside a page's JSON scripts as ``\\u003c``, which parses the same.

    print-site finds each heading's ``id`` with the pattern ``<([^\\s]+).*?id="``: from a ``<`` in a long line with
    no space, such as the explorer's tokens ``"<s>"`` in its 40 kB of JSON, it backtracks through the whole line at
    every step: the Chinese print site had not finished building after 25 minutes. With the ``<`` escaped, that
    page takes 0.7 s.
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
    extra_javascript = [
        script
        for script in parent_config().get("extra_javascript", [])
        if Path(str(script.get("path") if isinstance(script, dict) else script)).name not in PRINT_DROPS_JAVASCRIPT
    ]
    config = inherited_config(
        work,
        f"mkdocs-pdf-{lang}",
        lang=lang,
        plugins=(print_site,),
        hooks=(Path(__file__),),
        drop=PRINT_DROPS,
        extra={"extra_css": extra_css, "extra_javascript": extra_javascript},
    )
    mkdocs_build(config, site)
    return site / "print_page" / "index.html"


def printed_pages() -> list[str]:
    """The pages the PDF prints, in the navigation's order (``docs/``-relative, as ``mkdocs.yml`` names them)."""

    def flatten(items: list[Any]) -> Iterator[str]:
        for item in items:
            if isinstance(item, str):
                yield item
            else:
                for value in item.values():
                    yield from flatten(value) if isinstance(value, list) else [value]

    pages = flatten(parent_config()["nav"])
    return [page for page in pages if not any(Path(page).match(pattern) for pattern in NOT_PRINTED)]


class _FigureAlts(HTMLParser):
    """The alt text of each figure of a page: an ``<img>``'s ``alt``, an inline ``<svg>``'s ``aria-label``."""

    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str] = []
        self._figures = 0  # how deep inside a <figure class="book-figure"> the parser is
        self._svgs = 0  # how deep inside an inline SVG figure: its own <svg> elements are not figures

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "figure" and (self._figures or "book-figure" in (attributes.get("class") or "").split()):
            self._figures += 1
        elif self._figures and tag == "img":
            self.alts.append(attributes.get("alt") or "")
        elif self._figures and tag == "svg":
            if not self._svgs:
                self.alts.append(attributes.get("aria-label") or "")
            self._svgs += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self._figures:
            self._figures -= 1
        elif tag == "svg" and self._svgs:
            self._svgs -= 1


def page_figures(site: Path) -> list[str]:
    """The alt text of each figure on the pages the PDF prints, as a language's site shows them, in order.

    Args:
        site: A language's site, built at its root (``build_print_site``).

    Returns:
        One alt text per figure (an image or an inline SVG in a ``book-figure``), page after page.
    """
    alts = []
    for page in printed_pages():
        built = Path(page).with_suffix("")
        parser = _FigureAlts()
        parser.feed((site / (built.parent if built.name == "index" else built) / "index.html").read_text("utf-8"))
        alts += parser.alts
    return alts


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

    The wait is for the page's own state (no formula left untyped, every image decoded), not for a fixed time.

    Args:
        url: The page's address.
        pdf: The file to write.
        root: The address of the built site's root, which ``url`` is under.
        site_url: Where that site is published: links to its pages the print does not hold go there.

    Returns:
        The PDF, with what the page held (measured laid out for paper, the print CSS applied) and the time of each
        step.

    Raises:
        RuntimeError: If the page logs an error or a request fails: the PDF would miss what it was for.
    """
    from playwright.sync_api import sync_playwright  # the test extra's; only printing needs it

    problems: list[str] = []
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal start
        now = time.perf_counter()
        seconds[step] = round(now - start, 1)
        start = now

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": PAPER_WIDTH_PX, "height": 1000})
            page.emulate_media(media="print")
            page.on("console", lambda message: message.type == "error" and problems.append(message.text))
            page.on("requestfailed", lambda request: problems.append(f"{request.url}: {request.failure}"))
            page.goto(url, wait_until="load")
            lap("load")
            page.wait_for_function(READY, timeout=300_000)
            lap("typeset")
            if problems:
                raise RuntimeError(f"{url}: " + "; ".join(problems))
            page.evaluate(DROP_EMPTY_SECTIONS)
            page.evaluate(FIT_TO_PAPER)
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
            lap("print")
        finally:
            browser.close()
    return PrintedBook(pdf, **measured, seconds=seconds)


def build_pdfs(out: Path, languages: tuple[str, ...] = LANGUAGES) -> list[PrintedBook]:
    """Build the PDF of each language, ``transformer-book.<lang>.pdf``, into a folder.

    Args:
        out: The folder for the PDFs (created if missing).
        languages: The languages to print.

    Returns:
        The PDFs, in the order of ``languages``.
    """

    def build(lang: str, work: Path) -> tuple[Path, float]:
        work.mkdir()
        start = time.perf_counter()
        page = build_print_site(lang, work / "site", work)
        return page, round(time.perf_counter() - start, 1)

    books = []
    # Each language builds in its own mkdocs process, all at once (a build keeps one core busy, most of it in Python);
    # the first language prints while the others are still building.
    with (
        tempfile.TemporaryDirectory(prefix="transformer-book-pdf-") as temporary,
        ThreadPoolExecutor(max_workers=len(languages)) as pool,
    ):
        builds = {lang: pool.submit(build, lang, Path(temporary) / lang) for lang in languages}
        for lang in languages:
            page, build_seconds = builds[lang].result()
            site = page.parents[1]
            published = parent_config()["site_url"] + ("" if lang == LANGUAGES[0] else f"{lang}/")
            with serve(site) as root:
                url = root + page.parent.relative_to(site).as_posix() + "/"
                printed = print_pdf(url, out / pdf_name(lang), root, published)
            seconds = {"build": build_seconds, **printed.seconds}
            books.append(dataclasses.replace(printed, page_figures=page_figures(site), seconds=seconds))
    return books


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m book.pdf [--out DIR] [--lang en zh]``."""
    parser = argparse.ArgumentParser(prog="python -m book.pdf", description="Print the book to one PDF per language.")
    parser.add_argument("--out", type=Path, default=ROOT / "site" / "pdf", help="folder for the PDFs (site/pdf)")
    parser.add_argument("--lang", nargs="+", choices=LANGUAGES, default=list(LANGUAGES), help="languages to print")
    args = parser.parse_args(argv)
    for book in build_pdfs(args.out, tuple(args.lang)):
        print(f"{book.pdf}: {book.pdf.stat().st_size / 1e6:.1f} MB, {book.formulas} formulas, {book.figures} figures")
        print("  seconds: " + ", ".join(f"{step} {seconds}" for step, seconds in book.seconds.items()))
        for line in book.cut:
            print(f"  wider than the paper: {line}")
        for control in book.controls:
            print(f"  a control on paper: {control}")


if __name__ == "__main__":
    main()
