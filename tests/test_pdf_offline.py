"""The PDF of each language and the offline copy (``make pdf``, ``make offline``; ``book/pdf.py``, ``book/offline.py``).

Each is built once per session into a temporary folder: the two PDFs (a build per language, both at once, then a
print each), then the offline zip (one build of the whole site), which the tests unzip and open from ``file://`` in
Chromium. The PDFs are read back: their pages, text, outline, fonts and tagged figures; what only the print page
shows (formulas typeset, anything wider than the paper) comes with them from ``book.pdf.build_pdfs``.
``BOOK_PDFS=<folder>`` and ``BOOK_OFFLINE=<zip>`` look at ones built before instead (``make pdf``, ``make offline``).
Select them with ``-m pdf`` or ``-m offline``; ``-m "not site"`` leaves them out with the other tests of the built
site.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from sitebuild import DOCS, LANGUAGES

from book.offline import FOLDER, build_offline
from book.pdf import CHROMIUM, CHROMIUM_ARGS, PrintedBook, build_pdfs, pdf_name, printed_pages

pypdf = pytest.importorskip("pypdf")
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

# Raw TeX that a typeset formula never leaves in the text: the book's delimiters and its commonest command.
RAW_TEX = ("\\frac", "$$", "\\(", "\\[")
# A query in each language, and a page its results must include.
SEARCHES = {"en": ("attention", "attention.html"), "zh": ("注意力", "zh/attention.html")}


def title(page: str, lang: str) -> str:
    """A page's title in a language: its first heading, without its ``{#id}`` and Markdown marks."""
    source = DOCS / (page if lang == "en" else page.replace(".md", f".{lang}.md"))
    heading = next(line for line in source.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
    return re.sub(r"\s*\{#[^}]*\}\s*$", "", heading[2:]).replace("`", "").replace("*", "").strip()


def squeeze(text: str) -> str:
    """Text without any whitespace: a PDF breaks lines where the page did, and extraction spaces words its own way."""
    return re.sub(r"\s+", "", text)


def flat(outline: list[Any]) -> Iterator[Any]:
    """The entries of a PDF's outline, depth first (pypdf nests an entry's children in a list after it)."""
    for entry in outline:
        yield from flat(entry) if isinstance(entry, list) else [entry]


def tagged_figures(reader: Any) -> list[str]:
    """The alt text of each figure of a tagged PDF that is drawn on a page, in the order of its structure tree.

    Chromium tags an image or an inline SVG with ``role="img"`` as a ``/Figure`` element holding its alt text, and
    the page it is drawn on (``/Pg``); the ``<figure>`` around it is a ``/Figure`` without one.
    """
    alts = []
    stack = [reader.trailer["/Root"]["/StructTreeRoot"]["/K"]]
    while stack:
        element = stack.pop().get_object()
        if isinstance(element, pypdf.generic.ArrayObject):
            stack.extend(reversed(element))
        elif isinstance(element, pypdf.generic.DictionaryObject):
            if element.get("/S") == "/Figure" and "/Alt" in element and "/Pg" in element:
                alts.append(str(element["/Alt"]))
            if "/K" in element:
                stack.append(element["/K"])
    return alts


@functools.cache
def read_pdf(pdf: Path) -> tuple[Any, str, str]:
    """A PDF, its text, and its text outside code (whose listings quote docstrings' TeX on purpose)."""
    reader = pypdf.PdfReader(pdf)
    prose: list[str] = []

    def keep_prose(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if "Mono" not in str((font or {}).get("/BaseFont", "")):
            prose.append(text)

    text = "\n".join(page.extract_text(visitor_text=keep_prose) for page in reader.pages)
    return reader, text, "".join(prose)


@pytest.fixture(scope="module", params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def books() -> Iterator[dict[str, PrintedBook]]:
    """Each language's PDF: built once for the session (a failed build fails every test once), or ``BOOK_PDFS``."""
    if os.environ.get("BOOK_PDFS"):
        folder = Path(os.environ["BOOK_PDFS"])
        yield {lang: PrintedBook(folder / pdf_name(lang)) for lang in LANGUAGES}
        return
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (scripts/setup-system.sh) to print the PDFs")
    folder = Path(tempfile.mkdtemp(prefix="transformer-book-pdfs-"))
    try:
        yield {book.pdf.name.split(".")[1]: book for book in build_pdfs(folder, LANGUAGES)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def book(books: dict[str, PrintedBook], lang: str) -> PrintedBook:
    return books[lang]


@pytest.mark.site
@pytest.mark.pdf
def test_each_chapter_starts_a_page_in_order_with_its_title(book: PrintedBook, lang: str) -> None:
    assert book.pdf.is_file()
    reader, text, _ = read_pdf(book.pdf)
    pages = printed_pages()
    titles = [title(page, lang) for page in pages]
    assert len(reader.pages) >= len(pages)
    missing = [t for t in titles if squeeze(t) not in squeeze(text)]
    assert missing == [], f"titles not in the {lang} PDF's text"
    # Each page of the book is an entry of the PDF's outline, on a page of its own, in the navigation's order.
    outline = {squeeze(entry.title): reader.get_destination_page_number(entry) for entry in flat(reader.outline)}
    starts = [outline.get(squeeze(t)) for t in titles]
    assert None not in starts, f"outline entries: {list(outline)}"
    assert starts == sorted(set(starts)), dict(zip(titles, starts, strict=True))


@pytest.mark.site
@pytest.mark.pdf
def test_formulas_are_typeset_and_no_raw_tex_is_left(book: PrintedBook) -> None:
    _, _, prose = read_pdf(book.pdf)
    assert [tex for tex in RAW_TEX if tex in prose] == []
    if book.formulas is not None:  # the print's own count, when this session printed it
        assert book.formulas > 50


@pytest.mark.site
@pytest.mark.pdf
def test_every_figure_of_the_pages_is_in_the_pdf(book: PrintedBook, lang: str) -> None:
    reader, _, _ = read_pdf(book.pdf)
    printed = collections.Counter(map(squeeze, tagged_figures(reader)))
    assert printed.total() > 20
    if book.page_figures is None:
        pytest.skip("BOOK_PDFS: the figures of the pages it was printed from are not recorded with the PDF")
    assert printed.total() >= len(book.page_figures)
    # Each figure of the site's pages, found by its alt text (as many times as the pages show it).
    missing = collections.Counter(map(squeeze, book.page_figures)) - printed
    assert not missing, f"figures of the {lang} pages not in the PDF: {[alt[:60] for alt in missing]}"


@pytest.mark.site
@pytest.mark.pdf
def test_figures_are_drawn_nothing_is_cut_at_the_edge_and_no_control_prints(book: PrintedBook) -> None:
    if book.figures is None or book.page_figures is None:
        pytest.skip("BOOK_PDFS: the print's measurements are not recorded with the PDF")
    assert book.figures >= len(book.page_figures)
    # Code blocks, tables, formulas and figures, measured on the print page laid out at the paper's width.
    assert book.cut == [], "wider than the paper"
    # An interactive figure (chapter 9's explorer) leaves paper to its static twin: its controls would be empty boxes.
    assert book.controls == []


@pytest.mark.site
@pytest.mark.pdf
def test_every_font_is_embedded_and_the_chinese_text_is_chinese(book: PrintedBook, lang: str) -> None:
    reader, text, _ = read_pdf(book.pdf)
    fonts: dict[str, bool] = {}
    for page in reader.pages:
        resources = page.get("/Resources")
        for font in (resources.get_object().get("/Font") or {}).values() if resources else ():
            font = font.get_object()
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = described.get("/FontDescriptor")
            files = {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.get_object() if descriptor else ())
            # A Type 3 font draws its glyphs in the PDF itself: embedded by nature.
            fonts[str(font.get("/BaseFont"))] = bool(files) or font.get("/Subtype") == "/Type3"
    assert fonts and [name for name, embedded in fonts.items() if not embedded] == []
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    if lang == "zh":
        assert han > 10_000
        assert any("WenQuanYi" in name or "CJK" in name for name in fonts), sorted(fonts)


@pytest.fixture(scope="module")
def offline_site() -> Iterator[Path]:
    """The offline zip, built once (or ``BOOK_OFFLINE``), unzipped into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="transformer-book-offline-"))
    archive = Path(os.environ["BOOK_OFFLINE"]) if os.environ.get("BOOK_OFFLINE") else build_offline(folder / "book.zip")
    with zipfile.ZipFile(archive) as zipped:
        assert {name.split("/")[0] for name in zipped.namelist()} == {FOLDER}
        zipped.extractall(folder)
    yield folder / FOLDER
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (scripts/setup-system.sh)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.site
@pytest.mark.offline
def test_the_offline_copy_searches_and_shows_everything_from_the_file_system(
    offline_site: Path, chromium: Any, lang: str
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url} {request.failure}"))
    page.on("request", lambda r: r.url.startswith(("file:", "data:")) or problems.append(f"off the disk: {r.url}"))
    home = offline_site / ("index.html" if lang == "en" else f"{lang}/index.html")
    page.goto(home.as_uri(), wait_until="load")

    query, expected = SEARCHES[lang]
    page.click("label.md-search__icon, .md-search__input")
    box = page.locator("input.md-search__input")
    box.fill(query)
    box.press("End")  # fill() types no key, and material searches on key events
    page.wait_for_selector(".md-search-result__item", timeout=60_000)
    links = page.eval_on_selector_all(".md-search-result__item > a", "links => links.map((link) => link.href)")
    found = [Path(unquote(urlsplit(link).path)) for link in links]
    assert (offline_site / expected).resolve() in found, links
    assert all(path.is_file() for path in found), links

    # The first result opens; its formulas are typeset, its figures drawn, and a figure opens full size.
    page.keyboard.press("Escape")
    page.goto((offline_site / expected).as_uri(), wait_until="load")
    page.wait_for_function("() => !document.querySelector('.arithmatex:not(:has(.katex))')", timeout=60_000)
    assert page.evaluate("() => [...document.images].every((image) => image.complete && image.naturalWidth > 0)")
    figure = page.locator(".book-figure img").first
    figure.scroll_into_view_if_needed()
    figure.click()
    page.wait_for_selector("dialog.book-zoom[open] img", timeout=10_000)
    assert problems == []
    page.close()
