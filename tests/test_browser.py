"""The built site in a real browser: Debian's Chromium, driven by Playwright, with no network but 127.0.0.1.

Every page of both languages is opened twice, on a desktop (1280 x 900, a fresh cache each time, as a first visit)
and on a phone (390 x 844): no console error and no failed request at all, nothing from another host, the formulas
rendered by KaTeX, every image loaded, no English label left on a Chinese page, no code hidden under the copy button,
a scroll hint on every formula wider than the screen; each language's heaviest first visit goes to
`test-artifacts/site-metrics.json`. Then one test per behaviour a reader relies on: the language switcher, search in
each language, the 404 page of each language, a figure opened full size on a phone, glossary tooltips on a touch
screen. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright
from sitebuild import ARTIFACTS, LANGUAGES, ROOT, SiteBuild, site_path, source_pages, write_metrics

pytestmark = [pytest.mark.site, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ARTIFACTS / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# A chapter page's first visit, before any search, downloads at most this much (uncompressed).
FIRST_VISIT_BUDGET = 1_000_000
# The weights the Performance page shows (book.figures.overview.site_weight_table).
WEIGHT_RECORD = ROOT / "benchmarks" / "site-weight.json"
# The smallest label a reader can read on a figure, in CSS pixels.
MIN_LABEL_PX = 9

# Labels of the theme and of the API pages that must not be left in English on a Chinese page.
ENGLISH_UI = re.compile(
    r"\b(Parameters|Returns|Raises|Yields|Attributes|Examples|Source code in|Name|Type|Description|Default|"
    r"Permanent link|Switch to|dark mode|light mode|Made with|Previous|Next|Search|Table of contents|Back to top|"
    r"Copy to clipboard|Skip to content|Initializing search|Open the figure|Close|Page not found)\b"
)

# The top result of a search for each word: the chapter whose title it is, else the chapter that teaches it.
SEARCHES = {
    "en": {
        "tensor": "tensors/",
        "autograd": "autograd/",
        "Variable": "autograd/",
        "embedding": "embeddings/",
        "positional": "positional-encoding/",
        "attention": "attention/",
        "encoder": "encoder/",
        "decoder": "decoder/",
        "label smoothing": "training/",
        "mask": "attention/",  # no chapter is called "Masks": the one with a section on them
        "broadcasting": "tensors/",
    },
    "zh": {
        "张量": "zh/tensors/",
        "自动求导": "zh/autograd/",
        "词嵌入": "zh/embeddings/",
        "位置编码": "zh/positional-encoding/",
        "注意力": "zh/attention/",
        "编码器": "zh/encoder/",
        "解码器": "zh/decoder/",
        "标签平滑": "zh/training/",
        "掩码": "zh/attention/",
        "广播": "zh/tensors/",
    },
}

# What a page reports about itself once loaded (run in the page; see PageReport).
INSPECT_PAGE = r"""
async () => {
  const article = document.querySelector("article");
  // Code, formulas, the language names and the docstrings' prose (English in both languages: the package has one
  // set of docstrings) are not interface text; the docstrings' section labels and table headers are.
  const outside = "code, pre, .katex, .arithmatex, svg, script, style, .md-select__link";
  const prose = ".doc-contents :is(p, li, td, dd)";
  const label = ".doc-section-title";
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (parent.closest(outside) || (parent.closest(prose) && !parent.closest(label))) continue;
    texts.push(walker.currentNode.textContent);
  }
  for (const element of document.querySelectorAll("[title], [aria-label], [placeholder]")) {
    if (element.closest(outside)) continue;
    for (const name of ["title", "aria-label", "placeholder"]) texts.push(element.getAttribute(name) || "");
  }

  // Code under the copy button: scroll each block to the end of its longest line, and look for text below the button.
  const hidden = [];
  for (const pre of document.querySelectorAll(".md-typeset pre")) {
    const button = pre.querySelector(".md-code__nav");  // material's copy (and other) buttons
    const code = pre.querySelector("code");
    if (!button || !code) continue;
    code.scrollLeft = code.scrollWidth;
    const b = button.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(code);
    const under = [...range.getClientRects()].some(
      (r) => r.width > 0 && r.right > b.left && r.left < b.right && r.bottom > b.top && r.top < b.bottom,
    );
    code.scrollLeft = 0;
    if (under) hidden.push(code.textContent.slice(0, 60));
  }

  // Display formulas wider than their box: each must show that it scrolls (edge shadows).
  const unhinted = [...document.querySelectorAll(".md-typeset div.arithmatex")]
    .filter((el) => el.scrollWidth > el.clientWidth + 1)
    .filter((el) => {
      const style = getComputedStyle(el);
      return !/gradient/.test(style.backgroundImage) || !["auto", "scroll"].includes(style.overflowX);
    })
    .map((el) => el.textContent.slice(0, 60));

  // Tables whose first column holds only numbers: how much of the table's width it takes.
  const firstCells = (table) => [...table.querySelectorAll("tbody tr > :first-child")];
  const width = (element) => element.getBoundingClientRect().width;
  const numberColumns = [...document.querySelectorAll(".md-typeset table")]
    .filter((table) => firstCells(table).every((cell) => /^\d*$/.test(cell.textContent.trim())))
    .map((table) => width(table.querySelector("tr > :first-child")) / width(table));

  // Figures load when scrolled to (loading="lazy"): load them all now, and list those that fail.
  const brokenImages = async () => {
    const broken = [];
    for (const image of document.images) {
      image.loading = "eager";
      await image.decode().catch(() => broken.push(image.src.slice(0, 80)));
    }
    return broken;
  };

  return {
    texts,
    math: document.querySelectorAll(".arithmatex").length,
    mathRendered: document.querySelectorAll(".arithmatex .katex").length,
    mathErrors: document.querySelectorAll(".katex-error").length,
    rawTex: article ? /\\\(|\\\[/.test(article.innerText) : false,
    brokenImages: await brokenImages(),
    hiddenCode: hidden,
    unhintedFormulas: unhinted,
    numberColumns,
  };
}
"""


def missing_page_handler(directory: str) -> type[http.server.SimpleHTTPRequestHandler]:
    """A handler that serves the built site as a static host does: a missing path gets its language's 404 page."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            if code != 404:
                super().send_error(code, message, explain)
                return
            language_page = Path(directory) / "zh" / "404.html"
            page = language_page if self.path.startswith("/zh/") and language_page.is_file() else None
            body = (page or Path(directory) / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler


@pytest.fixture(scope="module")
def server(site: SiteBuild) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), missing_page_handler(str(site.site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail("no /usr/bin/chromium: run scripts/setup-system.sh (make setup does)", pytrace=False)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did while it was open: console errors, failed requests, requests to other hosts, bytes."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    handlers: dict[str, Any] = field(default_factory=dict)

    def attach(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error":
                self.errors.append(f"console: {message.text} ({message.location.get('url')})")

        def on_request(request: Any) -> None:
            url = urlsplit(request.url)
            if url.scheme in {"http", "https", "ws", "wss"}:
                self.requests.append(request)
                if url.hostname != "127.0.0.1":
                    self.foreign.append(request.url)

        def on_response(response: Any) -> None:
            if response.status >= 400:
                self.failed.append(f"HTTP {response.status}: {response.url}")

        self.handlers = {
            "console": on_console,
            "pageerror": lambda error: self.errors.append(f"uncaught: {error}"),
            "request": on_request,
            "requestfailed": lambda request: self.failed.append(f"failed: {request.url}"),
            "response": on_response,
        }
        for event, handler in self.handlers.items():
            page.on(event, handler)

    def detach(self, page: Any) -> None:
        for event, handler in self.handlers.items():
            page.remove_listener(event, handler)

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def bytes(self) -> int:
        """Bytes of every response body received (uncompressed: the test server sends no gzip)."""
        return sum(max(request.sizes()["responseBodySize"], 0) for request in self.requests)


def open_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP, **options: Any) -> tuple[Any, Watch]:
    """A page in a fresh context (an empty cache, as a first visit), watched from its first request."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    watch = Watch()
    watch.attach(page)
    page.goto(url, wait_until="networkidle")
    return page, watch


def close(page: Any) -> None:
    context = page.context
    page.close()
    context.close()


@dataclass
class PageReport:
    """One page as the browser saw it (INSPECT_PAGE), with what it loaded."""

    path: str
    report: dict[str, Any]
    watch: Watch
    bytes: int


def all_paths(lang: str) -> list[str]:
    return [site_path(page, lang) for page in source_pages()]


MATH_RENDERED = "() => document.querySelectorAll('.arithmatex:not(:has(.katex))').length === 0"


def inspect(page: Any, path: str, watch: Watch) -> PageReport:
    """Wait for KaTeX (it runs once material has started, sometimes after the network is idle), then inspect."""
    with contextlib.suppress(PlaywrightTimeout):  # the report below says which formulas are left
        page.wait_for_function(MATH_RENDERED, timeout=10_000)
    weight = watch.bytes()  # before the inspection loads the figures further down
    return PageReport(path, page.evaluate(INSPECT_PAGE), watch, weight)


def tour(browser: Any, server: str, lang: str, device: str) -> list[PageReport]:
    """Open every page of a language and inspect it.

    On the desktop each page opens in a fresh context, an empty cache: a first visit, whose bytes are counted. On the
    phone one context opens them all (the cache makes it quicker; the layout is what is checked there).
    """
    reports = []
    if device == "desktop":
        for path in all_paths(lang):
            page, watch = open_page(browser, server + path, DESKTOP)
            reports.append(inspect(page, path, watch))
            close(page)
        return reports
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    for path in all_paths(lang):
        watch = Watch()
        watch.attach(page)
        page.goto(server + path, wait_until="networkidle")
        reports.append(inspect(page, path, watch))
        watch.detach(page)
    close(page)
    return reports


# The Chinese pages on the phone share their code, formulas and tables with the English ones (the parity test).
TOURS = [("en", "desktop"), ("zh", "desktop"), ("en", "phone")]


@functools.cache
def _tour(browser: Any, server: str, lang: str, device: str) -> list[PageReport]:
    return tour(browser, server, lang, device)


@pytest.fixture(scope="module", params=TOURS, ids=["-".join(t) for t in TOURS])
def pages(request: pytest.FixtureRequest, browser: Any, server: str) -> tuple[str, str, list[PageReport]]:
    lang, device = request.param
    return lang, device, _tour(browser, server, lang, device)


def failures(pages: list[PageReport], check: Any) -> dict[str, Any]:
    """``{path: what is wrong}`` for the pages where ``check(report)`` finds something."""
    return {report.path: found for report in pages if (found := check(report))}


def test_no_console_error_and_no_failed_request(pages: tuple[str, str, list[PageReport]]) -> None:
    *_, reports = pages
    assert failures(reports, lambda r: r.watch.errors) == {}
    assert failures(reports, lambda r: r.watch.failed) == {}
    assert failures(reports, lambda r: r.watch.foreign) == {}, "requests to other hosts"


def test_formulas_and_images_are_rendered(pages: tuple[str, str, list[PageReport]]) -> None:
    *_, reports = pages
    assert failures(reports, lambda r: r.report["mathRendered"] != r.report["math"]) == {}
    assert failures(reports, lambda r: r.report["mathErrors"] or r.report["rawTex"]) == {}
    assert failures(reports, lambda r: r.report["brokenImages"]) == {}
    home = next(r for r in reports if r.path in {"", "zh/"})
    assert home.report["math"] >= 3, "the home page's formulas are missing"


def test_no_code_is_hidden_under_the_copy_button(pages: tuple[str, str, list[PageReport]]) -> None:
    *_, reports = pages
    assert failures(reports, lambda r: r.report["hiddenCode"]) == {}


def test_wide_formulas_show_that_they_scroll(pages: tuple[str, str, list[PageReport]]) -> None:
    *_, reports = pages
    assert failures(reports, lambda r: r.report["unhintedFormulas"]) == {}


def test_number_columns_stay_narrow(pages: tuple[str, str, list[PageReport]]) -> None:
    *_, reports = pages
    assert failures(reports, lambda r: [share for share in r.report["numberColumns"] if share > 0.15]) == {}


def test_chinese_pages_have_no_english_label(pages: tuple[str, str, list[PageReport]]) -> None:
    lang, _, reports = pages
    if lang != "zh":
        pytest.skip("the Chinese pages only")
    found = failures(reports, lambda r: sorted({m for text in r.report["texts"] for m in ENGLISH_UI.findall(text)}))
    assert found == {}


def test_first_visit_weight_and_no_search_index_before_searching(pages: tuple[str, str, list[PageReport]]) -> None:
    lang, device, reports = pages
    assert failures(reports, lambda r: [url for url in r.watch.urls() if "search_index" in url]) == {}
    if device != "desktop":
        pytest.skip("weighed on the desktop tour")
    chapters = [r for r in reports if "/api/" not in f"/{r.path}"]
    heaviest, heaviest_chapter = (max(pages, key=lambda r: r.bytes) for pages in (reports, chapters))
    write_metrics(
        **{
            f"first_visit_{lang}": {
                "heaviest_page": f"/{heaviest.path}",
                "heaviest_page_bytes": heaviest.bytes,
                "heaviest_chapter": f"/{heaviest_chapter.path}",
                "heaviest_chapter_bytes": heaviest_chapter.bytes,
                "chapter_budget_bytes": FIRST_VISIT_BUDGET,
            }
        }
    )
    assert failures(chapters, lambda r: r.bytes if r.bytes > FIRST_VISIT_BUDGET else 0) == {}
    # The Performance page shows the record; it must still say what a visit downloads.
    record = json.loads(WEIGHT_RECORD.read_text(encoding="utf-8"))
    assert record["chapter_budget_bytes"] == FIRST_VISIT_BUDGET
    for key, measured in (("heaviest_page_bytes", heaviest.bytes), ("heaviest_chapter_bytes", heaviest_chapter.bytes)):
        recorded = record["languages"][lang][key]
        assert abs(measured - recorded) <= 0.2 * recorded, (
            f"{WEIGHT_RECORD.name} says {key} = {recorded}, measured {measured}: "
            f"copy first_visit_{lang} from test-artifacts/site-metrics.json into it"
        )


# (page with a fragment, its twin with the same fragment): the API pages' ids are the objects' names in both languages.
SWITCHES = [
    ("api/attention/#transformer.MultiHeadedAttention", "zh/api/attention/#transformer.MultiHeadedAttention"),
    ("zh/api/masks-data/#transformer.subsequent_mask", "api/masks-data/#transformer.subsequent_mask"),
    ("", "zh/"),
    ("zh/attention/", "attention/"),
]


@pytest.mark.parametrize(("path", "twin"), SWITCHES, ids=[p or "home" for p, _ in SWITCHES])
def test_language_switcher_keeps_the_page_and_the_section(browser: Any, server: str, path: str, twin: str) -> None:
    page, watch = open_page(browser, server + path)
    lang = "zh" if path.startswith("zh/") else "en"
    assert page.locator("html").get_attribute("lang") == lang
    name = f"{lang}-{path.split('#')[0].removeprefix('zh/').strip('/').replace('/', '-') or 'home'}"
    # At a section, what the reader sees there; else the whole page.
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page="#" not in path)
    other = "en" if lang == "zh" else "zh"
    page.hover(".md-header__option .md-select")
    page.click(f".md-select__link[hreflang={other}]")
    page.wait_for_load_state("networkidle")
    assert page.url == server + twin
    assert watch.errors == []
    assert watch.failed == []
    close(page)


def run_search(page: Any, query: str) -> list[str]:
    """Type a query into the search box and return the result links once they stop changing."""
    box = page.locator("input.md-search__input")
    box.fill(query)
    box.press("End")  # fill() types no key, and material searches on key events
    page.wait_for_selector(".md-search-result__item", timeout=15_000)
    results: list[str] = []
    for _ in range(50):
        page.wait_for_timeout(200)
        now = [a.get_attribute("href") or "" for a in page.locator(".md-search-result__item > a").all()]
        if now and now == results:
            break
        results = now
    return results


@pytest.mark.parametrize("lang", LANGUAGES)
def test_search_finds_the_chapter_in_the_readers_language(browser: Any, server: str, lang: str) -> None:
    home = "" if lang == "en" else f"{lang}/"
    page, watch = open_page(browser, server + home)
    page.click("label.md-search__icon, .md-search__input")
    tops = {}
    for query, chapter in SEARCHES[lang].items():
        results = [urlsplit(href).path.removeprefix(urlsplit(server).path) for href in run_search(page, query)]
        assert results, f"no result for {query!r}"
        assert all(path.startswith("zh/") == (lang == "zh") for path in results), f"{query!r}: {results}"
        tops[query] = (results[0], chapter)
    assert {query: top for query, (top, chapter) in tops.items() if top != chapter} == {}, "top result != chapter"

    # The previews are plain text: formulas in plain form (√d_k), no line starting with punctuation.
    run_search(page, "divide" if lang == "en" else "除以")
    teasers = [t.text_content() or "" for t in page.locator(".md-search-result__article").all()]
    assert any("√d_k" in t for t in teasers), teasers
    assert [t for t in teasers if re.search(r"\\[(\[]|\$\$", t)] == [], "TeX source in a preview"
    assert [t for t in teasers if re.search(r"\u200b[，。、；：？！）」”]", t)] == [], "a break before punctuation"
    page.screenshot(path=str(SCREENSHOTS / f"search-{lang}.png"))

    indexes = [url for url in watch.urls() if url.endswith("search_index.json")]
    assert indexes == [f"{server}{home}search/search_index.json"], "the page's language's index, once"
    assert watch.errors == []
    assert watch.failed == []
    close(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_missing_page_answers_in_the_readers_language(browser: Any, server: str, lang: str) -> None:
    home = server if lang == "en" else f"{server}{lang}/"
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch()
    watch.attach(page)
    response = page.goto(f"{home}no/such/page/", wait_until="networkidle")
    assert response.status == 404
    assert page.locator("html").get_attribute("lang") == lang
    assert "404" in page.locator("article h1").inner_text()
    page.screenshot(path=str(SCREENSHOTS / f"404-{lang}.png"))
    links = page.locator(".md-select__link").all()
    switcher = {link.get_attribute("hreflang"): link.evaluate("a => a.href") for link in links}
    assert switcher == {"en": server, "zh": f"{server}zh/"}, "the language menu offers the home pages"
    # The only failure is the missing page itself (the browser logs its 404 status as a console error).
    assert watch.failed == [f"HTTP 404: {home}no/such/page/"]
    assert len(watch.errors) == 1 and "404" in watch.errors[0]
    page.locator("article a.md-button").click()
    page.wait_for_load_state("networkidle")
    assert page.url == home
    close(page)


# The smallest label of each figure, as displayed: an <img> of SVG text (matplotlib, svg.fonttype "none") is scaled
# from the SVG's width; an inline <svg> carries its own transform.
MIN_LABELS = r"""
(root) => Promise.all([...root.querySelectorAll(".book-figure :is(img, svg), .book-zoom__frame > *")].map(
async (figure) => {
  const width = figure.getBoundingClientRect().width;
  if (figure instanceof HTMLImageElement) {
    const svg = await (await fetch(figure.currentSrc || figure.src)).text();
    const drawn = parseFloat(svg.match(/<svg[^>]*\swidth="([\d.]+)pt"/)[1]);
    const sizes = [...svg.matchAll(/font[^;"]*?([\d.]+)px/g)].map((m) => parseFloat(m[1]));
    return Math.min(...sizes) * width / drawn;
  }
  const texts = [...figure.querySelectorAll("text")];
  return Math.min(...texts.map((t) => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a));
}))
"""


@pytest.mark.parametrize("path", ["attention/", "zh/attention/", ""])
def test_a_figure_opens_full_size_on_a_phone(browser: Any, server: str, path: str) -> None:
    page, watch = open_page(browser, server + path, PHONE, has_touch=True, is_mobile=True)
    labels = page.evaluate(MIN_LABELS, page.locator("article").element_handle())
    smallest = min(range(len(labels)), key=labels.__getitem__)
    assert labels[smallest] < MIN_LABEL_PX, "no figure needs opening on this page: pick another"
    figure = page.locator(".book-figure img, .book-figure svg").nth(smallest)
    figure.scroll_into_view_if_needed()
    box = figure.bounding_box()
    # Tap beside the figure's links (the architecture figure's boxes open their chapter): its top left corner.
    page.touchscreen.tap(box["x"] + 3, box["y"] + 3)
    dialog = page.locator("dialog.book-zoom[open]")
    dialog.wait_for()
    (full_size,) = page.evaluate(MIN_LABELS, dialog.element_handle())
    assert full_size >= MIN_LABEL_PX - 0.1, f"labels {full_size:.1f} px when opened"
    name = path.strip("/").replace("/", "-") or "home"
    page.screenshot(path=str(SCREENSHOTS / f"phone-{name}-figure-full-size.png"))
    page.keyboard.press("Escape")
    assert dialog.count() == 0
    assert watch.errors == []
    close(page)


def test_glossary_tooltips_open_on_a_tap(browser: Any, server: str) -> None:
    page, watch = open_page(browser, server + "embeddings/", PHONE, has_touch=True, is_mobile=True)
    term = page.locator("article abbr[title]").first
    term.scroll_into_view_if_needed()
    term.tap()
    shown = term.evaluate("abbr => document.activeElement === abbr && getComputedStyle(abbr, '::after').content")
    assert shown == f'"{term.get_attribute("title")}"', "the Chinese name is not shown"
    assert re.search(r"[\u4e00-\u9fff]", shown or "")
    assert watch.errors == []
    close(page)


@pytest.mark.parametrize("path", ["attention/", "zh/attention/"])
def test_headings_typeset_formulas_as_the_text_does(browser: Any, server: str, path: str) -> None:
    page, watch = open_page(browser, server + path)
    headings = page.locator("article :is(h1, h2, h3, h4), .md-nav--secondary .md-nav__link")
    with_root = [h for h in headings.all() if "√" in (h.text_content() or "") or h.locator(".katex").count()]
    assert with_root, "the page has a heading with √d_k: pick another page"
    plain = [h.text_content() for h in with_root if h.locator(".katex").count() == 0]
    assert plain == [], "a formula in plain text in a heading"
    assert watch.errors == []
    close(page)


def test_api_table_of_contents_names_each_entry_once(browser: Any, server: str) -> None:
    page, _ = open_page(browser, server + "api/attention/")
    # A label is what the reader sees: the symbol's kind (a badge drawn by CSS: mod, func, class) and its name.
    toc = ".md-sidebar--secondary .md-nav--secondary > .md-nav__list > .md-nav__item > .md-nav__link"
    top_level = page.locator(toc).evaluate_all(
        """links => links.map(link => {
             const badge = link.querySelector('.doc-symbol');
             return (badge ? getComputedStyle(badge, '::after').content + ' ' : '') + link.textContent.trim();
           })"""
    )
    assert len(top_level) > 2, "no table of contents"
    assert len(top_level) == len(set(top_level)), f"the same label twice: {top_level}"
    close(page)


def test_architecture_figure_boxes_open_their_chapter(browser: Any, server: str) -> None:
    page, watch = open_page(browser, server)
    label = page.locator('figure.book-figure svg a[href="attention/"] text').first  # the box's label
    label.evaluate("element => element.scrollIntoView({block: 'center'})")  # not under the sticky header
    label.click()
    page.wait_for_load_state("networkidle")
    assert page.url == server + "attention/"
    assert watch.errors == []
    close(page)


# The attention explorer of chapter 9: what lights up is what the page's JSON says, on a desktop with the mouse and
# on a phone with a finger; the grid stays inside the screen's width (it scrolls in its own box).
EXPLORER_STATE = r"""
(figure) => ({
  cells: [...figure.querySelectorAll(".attention-explorer__cell.is-active")].map(
    (c) => [+c.dataset.row, +c.dataset.col, +c.dataset.weight]),
  lit: Object.fromEntries(["out", "src"].map((side) => [side, [...figure.querySelectorAll(
    `.attention-explorer__token.is-lit[data-side="${side}"]`)].map((t) => +t.dataset.weight)])),
  readout: figure.querySelector(".attention-explorer__readout").textContent,
  labels: [...figure.querySelectorAll(".attention-explorer__control > span")].map((s) => s.textContent),
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
})
"""


@pytest.mark.parametrize(("path", "device"), [("translation/", "desktop"), ("zh/translation/", "phone")])
def test_the_attention_explorer_lights_what_its_data_says(browser: Any, server: str, path: str, device: str) -> None:
    phone = device == "phone"
    options = {"has_touch": True, "is_mobile": True} if phone else {}
    page, watch = open_page(browser, server + path, PHONE if phone else DESKTOP, **options)
    figure = page.locator("figure.attention-explorer")
    data = json.loads(figure.locator("script[type='application/json']").text_content() or "")
    # The last example, its last layer and head: none of them is what the explorer shows first.
    k = len(data["examples"]) - 1
    layer, head = data["layers"] - 1, data["heads"] - 1
    figure.locator(".attention-explorer__example").select_option(str(k))
    figure.locator(".attention-explorer__layer").select_option(str(layer))
    figure.locator(".attention-explorer__head").select_option(str(head))
    example = data["examples"][k]
    weights = example["weights"][layer][head]  # (output tokens, source tokens), percentages

    def point(side: str, index: int) -> dict[str, Any]:
        token = figure.locator(f'.attention-explorer__token[data-side="{side}"][data-index="{index}"]')
        token.scroll_into_view_if_needed()
        if phone:
            token.tap()
        else:
            token.hover()
        return figure.evaluate(EXPLORER_STATE)

    i = len(example["output"]) // 2
    state = point("out", i)
    assert state["cells"] == [[i, j, w] for j, w in enumerate(weights[i])]
    assert state["lit"] == {"out": [], "src": weights[i]}
    assert example["output"][i] in state["readout"]
    j = len(example["source"]) // 2
    state = point("src", j)
    assert state["cells"] == [[r, j, row[j]] for r, row in enumerate(weights)]
    assert state["lit"] == {"out": [row[j] for row in weights], "src": []}
    # The keyboard reaches the tokens too: focus lights them as pointing does.
    figure.locator('.attention-explorer__token[data-side="out"][data-index="0"]').focus()
    assert figure.evaluate(EXPLORER_STATE)["lit"]["src"] == weights[0]
    state = figure.evaluate(EXPLORER_STATE)
    assert state["labels"] == (["例子", "层", "注意力头"] if path.startswith("zh/") else ["Example", "Layer", "Head"])
    assert state["overflow"] <= 0, "the explorer makes the page wider than the screen"
    name = path.strip("/").replace("/", "-")
    figure.screenshot(path=str(SCREENSHOTS / f"{device}-{name}-attention-explorer.png"))
    assert watch.errors == []
    assert watch.failed == []
    close(page)
