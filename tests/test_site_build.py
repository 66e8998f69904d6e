"""The strict build of the bilingual site, and what the built pages must contain."""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import pytest
from sitebuild import DOCS, LANGUAGES, SITE_URL, SiteBuild, build_site, parse_html, site_path, source_pages

import transformer
from book.katex import katex_files

pytestmark = pytest.mark.site

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_strict_build_has_no_warning() -> None:
    build = build_site()
    problems = [line for line in build.output.splitlines() if re.match(r"(WARNING|ERROR)\b", line)]
    assert build.returncode == 0, build.output[-6000:]
    assert problems == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_is_built_in_both_languages(site: SiteBuild, lang: str) -> None:
    for page in source_pages():
        built = site.page(site_path(page, lang))
        assert built.is_file(), f"{page.name}: no {lang} page at {built}"
        assert parse_html(built).lang == lang, f"{built}: <html lang> is not {lang!r}"


def test_chinese_pages_use_the_themes_chinese_strings(site: SiteBuild) -> None:
    home = site.page("zh/").read_text(encoding="utf-8")
    assert 'placeholder="搜索"' in home
    # Section titles of the navigation, translated by nav_translations.
    assert "章节" in home
    assert "API 参考" in home


@pytest.mark.parametrize("lang", LANGUAGES)
def test_language_switcher_points_to_the_twin_page(site: SiteBuild, lang: str) -> None:
    for page in source_pages():
        path = site_path(page, lang)
        switcher = parse_html(site.page(path)).hreflang
        for other in LANGUAGES:
            target = urljoin(f"http://site/{path}", switcher[other])
            assert target == f"http://site/{site_path(page, other)}", f"{path}: switcher to {other} -> {target}"


def test_no_resource_is_loaded_from_another_host(site: SiteBuild) -> None:
    for html_file in site.site.rglob("*.html"):
        for tag, attribute, url in parse_html(html_file).urls:
            if tag != "a" and re.match(r"(https?:)?//", url):
                # <link rel=canonical> names this site (site_url); every resource must come from it.
                assert url.startswith(SITE_URL), f"{html_file}: <{tag} {attribute}={url}>"
    for css in site.site.rglob("*.css"):
        assert not re.search(r"url\((['\"]?)(https?:)?//", css.read_text(encoding="utf-8")), css
    assert "fonts.googleapis.com" not in site.page("").read_text(encoding="utf-8")


def test_math_is_rendered_by_the_local_katex(site: SiteBuild) -> None:
    # The site serves KaTeX's files as the pip-installed package ships them (book/katex.py), whatever lies in docs/.
    served = katex_files()
    for name in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js", "LICENSE"):
        assert f"assets/vendor/katex/{name}" in served
    css = served["assets/vendor/katex/katex.min.css"].read_text(encoding="utf-8")
    fonts = set(re.findall(r"url\((fonts/[\w-]+\.woff2)\)", css))
    assert fonts and {f"assets/vendor/katex/{font}" for font in fonts} <= set(served)  # each font the CSS names
    for name, source in served.items():
        built = site.site / name
        assert built.is_file(), f"KaTeX: no {name} in the site"
        assert built.read_bytes() == source.read_bytes(), f"KaTeX: {name} differs from {source}"
    folder = site.site / "assets/vendor/katex"
    in_site = {path.relative_to(site.site).as_posix() for path in folder.rglob("*") if path.is_file()}
    assert in_site == set(served), "KaTeX: the site holds files the package does not ship (an older copy in docs/?)"
    for lang in LANGUAGES:
        home = site.page("" if lang == "en" else f"{lang}/").read_text(encoding="utf-8")
        assert 'class="arithmatex"' in home
        assert "assets/vendor/katex/katex.min.js" in home


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_figure_has_alt_text_in_the_pages_language(site: SiteBuild, lang: str) -> None:
    figures = 0
    for page in source_pages():
        parsed = parse_html(site.page(site_path(page, lang)))
        labels = [alt for src, alt in parsed.images if "assets/figures/" in src] + parsed.svg_labels
        for label in labels:
            where = f"{site_path(page, lang)}: figure"
            assert label and label.strip(), f"{where} without alt text"
            # English alt text may quote the Chinese a figure shows (chapters 9 and 10 are about it), but is English.
            cjk, latin = len(CJK.findall(label)), len(re.findall(r"[A-Za-z]", label))
            in_lang = cjk > 0 if lang == "zh" else cjk <= 0.1 * latin
            assert in_lang, f"{where} alt text not in {lang}: {label[:80]!r}"
        figures += len(labels)
    assert figures >= 3  # the home page alone has three


def test_the_home_page_has_the_linked_architecture_figure(site: SiteBuild) -> None:
    for lang in LANGUAGES:
        parsed = parse_html(site.page("" if lang == "en" else f"{lang}/"))
        svg_links = {url for tag, _, url in parsed.urls if tag == "a" and not url.startswith(("#", "http"))}
        for chapter in ("tensors/", "autograd/", "embeddings/", "positional-encoding/", "attention/", "training/"):
            assert chapter in svg_links, f"{lang} home page: no link to {chapter}"


def test_api_reference_documents_every_public_name(site: SiteBuild) -> None:
    for lang in LANGUAGES:
        ids: set[str] = set()
        for html_file in (site.site / ("api" if lang == "en" else f"{lang}/api")).rglob("index.html"):
            ids |= parse_html(html_file).ids
        missing = sorted(name for name in transformer.__all__ if f"transformer.{name}" not in ids)
        assert missing == [], f"{lang} API pages do not render: {missing}"


def search_index(site: SiteBuild, lang: str) -> dict:
    folder = "" if lang == "en" else f"{lang}/"
    return json.loads((site.site / folder / "search/search_index.json").read_text(encoding="utf-8"))


def test_search_index_holds_segmented_chinese(site: SiteBuild) -> None:
    index = search_index(site, "zh")
    assert index["config"]["lang"] == ["en", "zh"]
    assert "\\u200b" in index["config"]["separator"]
    # jieba's segmentation shows as zero-width spaces around the words; the glossary's terms stay whole.
    assert any("\u200b注意力\u200b" in doc["text"] for doc in index["docs"])
    titles = {doc["location"]: doc["title"] for doc in index["docs"]}
    assert "位置编码" in titles["zh/positional-encoding/"] and "词嵌入" in titles["zh/embeddings/"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_its_own_search_index(site: SiteBuild, lang: str) -> None:
    docs = search_index(site, lang)["docs"]
    pages = {doc["location"] for doc in docs if "#" not in doc["location"]}
    assert pages == {site_path(page, lang) for page in source_pages()}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_search_previews_are_plain_text(site: SiteBuild, lang: str) -> None:
    index = search_index(site, lang)
    separator = re.compile(index["config"]["separator"])
    for doc in index["docs"]:
        for field in ("title", "text"):
            text = doc[field]
            assert not re.search(r"\\[(\[]|\$\$", text), f"{doc['location']} {field}: TeX source {text[:200]!r}"
            for i, char in enumerate(text):
                if char == "\u200b":  # a line may break there: never next to punctuation or a space
                    around = text[i - 1 : i] + text[i + 1 : i + 2]
                    assert not any(separator.fullmatch(c) for c in around if c != "\u200b"), doc["location"]
    assert any("√d_k" in doc["text"] for doc in index["docs"]), "formulas are kept, in plain form"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_its_own_404_page(site: SiteBuild, lang: str) -> None:
    page = site.site / ("" if lang == "en" else lang) / "404.html"
    parsed = parse_html(page)
    assert parsed.lang == lang
    assert parsed.hreflang == {"en": "/", "zh": "/zh/"}, "the language menu of a 404 page offers the home pages"
    home = "/" if lang == "en" else f"/{lang}/"
    assert f'class="md-button md-button--primary" href="{home}"' in page.read_text(encoding="utf-8"), "no link home"


def test_pages_name_the_deployed_address_as_canonical(site: SiteBuild) -> None:
    assert not re.match(r"https?://(127\.|localhost)", SITE_URL), "site_url is a local address"
    for lang in LANGUAGES:
        for page in source_pages():
            path = site_path(page, lang)
            html = site.page(path).read_text(encoding="utf-8")
            assert f'<link rel="canonical" href="{SITE_URL}{path}">' in html, path


def test_performance_table_says_which_way_its_ratios_run(site: SiteBuild) -> None:
    for lang, sentence in (("en", "is A's time divided by B's time"), ("zh", "是 A 的耗时除以 B 的耗时")):
        html = site.page(site_path(DOCS / "performance.md", lang)).read_text(encoding="utf-8")
        assert sentence in html, f"{lang} Performance page"


def test_chinese_api_pages_have_chinese_labels(site: SiteBuild) -> None:
    html = site.page("zh/api/attention/").read_text(encoding="utf-8")
    for label in ("参数：", "源代码位于", "永久链接", "名称", "描述"):
        assert label in html, label
    for label in ("Parameters:", "Source code in", "Permanent link", "Switch to dark mode", "Made with"):
        assert label not in html, label


def test_api_pages_show_no_raw_restructuredtext(site: SiteBuild) -> None:
    """Docstrings are Markdown here: a formula is `$$ ... $$` (display) or `$ ... $` (inline), not `.. math::`."""
    raw = {}
    for html_file in sorted((site.site / "api").rglob("index.html")):
        text = html_file.read_text(encoding="utf-8")
        found = sorted(set(re.findall(r"\.\. \w+::|:(?:math|class|func|meth|attr):`", text)))
        if found:
            raw[str(html_file.relative_to(site.site))] = found
    assert raw == {}, f"reStructuredText shown as plain text (use Markdown in docstrings): {raw}"
