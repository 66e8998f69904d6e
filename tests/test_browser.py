"""Every page of both languages in a real browser (Chromium, driven by Playwright, no network but 127.0.0.1).

Each page is opened on a desktop (1280 x 900, a fresh cache each time, as a first visit) in both languages, and on a
phone (390 x 844) in English: no console error and no failed request at all, nothing from another host, the formulas
rendered by KaTeX, every image loaded, no English label left on a Chinese page, no code hidden under the copy button,
a scroll hint on every formula wider than the screen, no page wider than the screen; each language's heaviest first
visit goes to `test-artifacts/site-metrics.json`. What a reader does on a page is in `test_browser_reader.py`; what
both files share, in `browser.py`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from browser import DESKTOP, PHONE, Watch, close, launch, open_page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sitebuild import ROOT, site_path, source_pages, write_metrics

pytestmark = [pytest.mark.site, pytest.mark.browser]

# A chapter page's first visit, before any search, downloads at most this much (uncompressed).
FIRST_VISIT_BUDGET = 1_000_000
# The weights the Performance page shows (book.figures.overview.site_weight_table).
WEIGHT_RECORD = ROOT / "benchmarks" / "site-weight.json"

# Labels of the theme and of the API pages that must not be left in English on a Chinese page.
ENGLISH_UI = re.compile(
    r"\b(Parameters|Returns|Raises|Yields|Attributes|Examples|Source code in|Name|Type|Description|Default|"
    r"Permanent link|Switch to|dark mode|light mode|Made with|Previous|Next|Search|Table of contents|Back to top|"
    r"Copy to clipboard|Skip to content|Initializing search|Open the figure|Close|Page not found)\b"
)


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
    pageWidth: document.documentElement.scrollWidth,
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


def _tour_in_its_own_browser(server: str, lang: str, device: str) -> list[PageReport]:
    with launch() as chromium:  # Playwright is not thread-safe: one instance, one browser, per thread
        return tour(chromium, server, lang, device)


@functools.cache
def _tours(server: str) -> dict[tuple[str, str], list[PageReport]]:
    """The tours, all at once: a page spends much of its visit waiting (for the network to go idle, for KaTeX), and
    three browsers fill each other's waits. Measured on 2 cores, with test_browser_reader.py on the other worker:
    both files took 215 s with the tours one after the other, 185 s with the tours at once."""
    with ThreadPoolExecutor(len(TOURS)) as pool:
        running = {t: pool.submit(_tour_in_its_own_browser, server, *t) for t in TOURS}
        return {t: future.result() for t, future in running.items()}


@pytest.fixture(scope="module", params=TOURS, ids=["-".join(t) for t in TOURS])
def pages(request: pytest.FixtureRequest, server: str) -> tuple[str, str, list[PageReport]]:
    lang, device = request.param
    return lang, device, _tours(server)[request.param]


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


def test_no_page_is_wider_than_its_screen(pages: tuple[str, str, list[PageReport]]) -> None:
    """Wide code, formulas, tables and figures scroll in their own boxes; the page itself never scrolls sideways."""
    _, device, reports = pages
    screen = {"desktop": DESKTOP, "phone": PHONE}[device]["width"]
    assert failures(reports, lambda r: r.report["pageWidth"] if r.report["pageWidth"] > screen else 0) == {}


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
