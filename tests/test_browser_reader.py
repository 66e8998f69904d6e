"""What a reader relies on, in a real browser (Chromium, driven by Playwright, no network but 127.0.0.1): the
language switcher, search in each language, the 404 page of each language, a figure opened full size on a phone,
glossary tooltips on a touch screen, formulas in headings, the API's table of contents, the architecture figure's
links and the attention explorer. Screenshots go to test-artifacts/screenshots/. The tour of every page is in
`test_browser.py`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import DESKTOP, PHONE, SCREENSHOTS, Watch, close, open_page
from sitebuild import LANGUAGES

pytestmark = [pytest.mark.site, pytest.mark.browser]

# The smallest label a reader can read on a figure, in CSS pixels.
MIN_LABEL_PX = 9

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
        now = page.locator(".md-search-result__item > a").evaluate_all(
            "links => links.map(a => a.getAttribute('href') || '')"
        )
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
    # Tap beside the figure's links (the architecture figure's boxes open their chapter): its top left corner.
    # Playwright scrolls to it, waits for it to stand still and checks that nothing covers it.
    figure.tap(position={"x": 3, "y": 3})
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


def test_a_figure_opens_full_size_before_it_has_loaded(browser: Any, server: str) -> None:
    """A figure far down the page has not begun its lazy load: activated at once (a screen reader, a keyboard), it
    still opens at full size."""
    page, watch = open_page(browser, server + "zh/attention/", PHONE, has_touch=True, is_mobile=True)
    figure = page.locator(".book-figure img").last
    assert figure.evaluate("img => img.currentSrc === '' && !img.complete"), "the figure has loaded: pick a later one"
    figure.evaluate("img => img.click()")
    dialog = page.locator("dialog.book-zoom[open]")
    dialog.wait_for()
    (full_size,) = page.evaluate(MIN_LABELS, dialog.element_handle())
    assert full_size >= MIN_LABEL_PX - 0.1, f"labels {full_size:.1f} px when opened"
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
    headings = page.locator("article :is(h1, h2, h3, h4), .md-nav--secondary .md-nav__link").evaluate_all(
        "elements => elements.map(h => ({text: h.textContent, typeset: h.querySelector('.katex') !== null}))"
    )
    with_root = [h for h in headings if "√" in h["text"] or h["typeset"]]
    assert with_root, "the page has a heading with √d_k: pick another page"
    plain = [h["text"] for h in with_root if not h["typeset"]]
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
