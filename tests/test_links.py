"""Every internal link and anchor of the built site resolves, in both languages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from sitebuild import LANGUAGES, SITE_URL, SiteBuild, parse_html

from book.pdf import pdf_name

pytestmark = pytest.mark.site

# Files that `make pdf` adds to the built site afterwards (the home page links them): no build has them.
ADDED_AFTER_THE_BUILD = {f"pdf/{pdf_name(lang)}" for lang in LANGUAGES}


def resolve(site: Path, url: str) -> Path | None:
    """The file a site URL serves, as a static server would (``dir/`` -> ``dir/index.html``)."""
    path = unquote(urlsplit(url).path).removeprefix(urlsplit(SITE_URL).path)
    target = site / path
    if path == "" or path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


def test_internal_links_and_anchors_resolve(site: SiteBuild) -> None:
    broken: list[str] = []
    checked = 0
    for html_file in sorted(site.site.rglob("*.html")):
        page_url = urljoin(SITE_URL, html_file.relative_to(site.site).as_posix().removesuffix("index.html"))
        for tag, attribute, url in parse_html(html_file).urls:
            absolute = urljoin(page_url, url)
            if not absolute.startswith(SITE_URL):
                continue  # another host (a citation, the paper): not this site's to check
            where = f"{html_file.relative_to(site.site)}: <{tag} {attribute}={url!r}>"
            if url.endswith(".md") or ".md#" in url:
                broken.append(f"{where}: a Markdown link that was not turned into a page URL")
                continue
            target = resolve(site.site, absolute)
            checked += 1
            if target is None and absolute.removeprefix(SITE_URL) in ADDED_AFTER_THE_BUILD:
                continue
            if target is None:
                broken.append(f"{where}: no such file")
                continue
            fragment = unquote(urlsplit(absolute).fragment)
            if fragment and target.suffix == ".html" and fragment not in parse_html(target).ids:
                broken.append(f"{where}: no anchor #{fragment} in {target.relative_to(site.site)}")
    assert broken == [], "\n".join(broken)
    assert checked > 500  # the check did look at the site
