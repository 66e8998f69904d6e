"""The built site in a real browser: Debian's Chromium, driven by Playwright, with no network but 127.0.0.1.

For the home page and one API page in each language: no console error, no request to another host, the formulas
rendered by KaTeX, every image loaded, the language switcher landing on the twin page; and a search for a Chinese
word finding Chinese pages. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sitebuild import ARTIFACTS, SiteBuild

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
# (path, its twin in the other language)
PAGES = [("", "zh/"), ("zh/", ""), ("api/attention/", "zh/api/attention/"), ("zh/api/attention/", "api/attention/")]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(site: SiteBuild) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(site.site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.fail("no /usr/bin/chromium: run scripts/setup-system.sh (make setup does)", pytrace=False)
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did while it loaded: console errors, failed responses, requests to other hosts."""

    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    @staticmethod
    def benign(url: str) -> bool:
        # material fetches <page>/sitemap.xml for each alternate-language link; the i18n build has none there.
        return url.endswith("sitemap.xml")

    def attach(self, page: object) -> None:
        def on_console(message: object) -> None:
            if message.type == "error" and not self.benign(message.location.get("url", "")):
                self.errors.append(f"console: {message.text} ({message.location.get('url')})")

        def on_request(request: object) -> None:
            url = urlsplit(request.url)
            if url.scheme in {"http", "https", "ws", "wss"} and url.hostname != "127.0.0.1":
                self.foreign.append(request.url)

        def on_response(response: object) -> None:
            if response.status >= 400 and not self.benign(response.url):
                self.errors.append(f"HTTP {response.status}: {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", on_request)
        page.on("response", on_response)


def open_page(browser: object, url: str) -> tuple[object, Watch]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch()
    watch.attach(page)
    page.goto(url, wait_until="networkidle")
    return page, watch


@pytest.mark.parametrize(("path", "twin"), PAGES, ids=[p or "en/" for p, _ in PAGES])
def test_page_renders_offline_and_switches_language(browser: object, server: str, path: str, twin: str) -> None:
    page, watch = open_page(browser, server + path)
    lang = "zh" if path.startswith("zh/") else "en"
    name = f"{lang}-{path.removeprefix('zh/').strip('/').replace('/', '-') or 'home'}"
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    # Formulas: every arithmatex span became KaTeX, with no error and no raw TeX delimiters left in the text.
    math = page.locator(".arithmatex").count()
    assert page.locator(".arithmatex .katex").count() == math
    assert page.locator(".katex-error").count() == 0
    text = page.locator("article").inner_text()
    assert "\\(" not in text and "\\[" not in text, "raw TeX left on the page"
    if path in {"", "zh/"}:
        assert math >= 3, "the home page's formulas are missing"

    # Images, inline figures included, are loaded and visible.
    broken = page.evaluate(
        "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80))"
    )
    assert broken == []
    for svg in page.locator("figure.book-figure svg").all():
        box = svg.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100

    assert page.locator("html").get_attribute("lang") == lang

    # The language switcher lands on the same page in the other language.
    other = "en" if lang == "zh" else "zh"
    page.hover(".md-header__option .md-select")
    page.click(f".md-select__link[hreflang={other}]")
    page.wait_for_load_state("networkidle")
    assert page.url == server + twin

    assert watch.foreign == [], "requests to other hosts"
    assert watch.errors == []
    page.close()


def test_search_for_a_chinese_word_finds_the_chinese_pages(browser: object, server: str) -> None:
    page, watch = open_page(browser, server + "zh/")
    page.click("label.md-search__icon, .md-search__input")
    search = page.locator("input.md-search__input:visible")
    search.fill("注意力")
    search.press("End")  # fill() types no key, and material searches on key events
    page.wait_for_selector(".md-search-result__item", timeout=15_000)
    page.screenshot(path=str(SCREENSHOTS / "search-zh.png"))
    hrefs = [a.get_attribute("href") or "" for a in page.locator(".md-search-result__item a").all()]
    paths = [urlsplit(href).path for href in hrefs]
    assert paths[0].startswith("/zh/"), paths  # the English glossary lists 注意力 too, but lower
    assert "/zh/attention/" in paths, paths
    assert watch.foreign == []
    assert watch.errors == []
    page.close()


def test_architecture_figure_boxes_open_their_chapter(browser: object, server: str) -> None:
    page, watch = open_page(browser, server)
    label = page.locator('figure.book-figure svg a[href="attention/"] text').first  # the box's label
    label.evaluate("element => element.scrollIntoView({block: 'center'})")  # not under the sticky header
    label.click()
    page.wait_for_load_state("networkidle")
    assert page.url == server + "attention/"
    assert watch.errors == []
    page.close()
