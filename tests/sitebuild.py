"""The built site, shared by the site tests: `mkdocs build --strict` runs once per test run.

The site tests take it from the `site` fixture (conftest.py), which returns `build_site()`; the cache makes every
module of a process get the same build. The site goes to the test run's own temporary folder (`BOOK_TEST_RUN`, made
and removed by conftest.py; several people may run the tests in one tree at once, so a folder in the tree would be
cleaned under a running browser test). pytest-xdist's workers share it: the first to need the site builds it, under a
file lock, and the others read what it left (`site.json`). The build's time and size are written to
`test-artifacts/site-metrics.json` (git-ignored), which the browser test completes with each language's heaviest
first visit.

A successful build is also kept in `.cache/site/`, under a hash of everything it reads (``inputs_digest``: the pages,
the package, the book's code, the benchmarks' records, the installed packages). A later test run with the same
inputs copies it instead of building again, as the figures and the trained models are reused (book/exec_cache.py);
an edit to any file the build may read builds again. Only the latest build is kept.

`BOOK_SITE=<folder>` makes the tests look at a site built before instead of building one (to see a new test fail on
an older build, or to rerun the browser test without rebuilding).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ARTIFACTS = ROOT / "test-artifacts"
SITE_CACHE = ROOT / ".cache" / "site"
# What the build does not read: the tests, CI's script, outputs, caches (what they hold follows from the code, which is
# hashed) and the reader's own runs.
NOT_INPUTS = {
    ".git", ".venv", ".cache", ".ci", "tests", "site", "dist", "runs", "notebooks", "test-artifacts", "node_modules",
    "__pycache__", ".pytest_cache", ".ruff_cache",
}  # fmt: skip
LANGUAGES = ("en", "zh")
# Where the site says it is deployed (mkdocs.yml's site_url): its canonical URLs and sitemap name this address.
SITE_URL = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.MULTILINE)[1]


@dataclass(frozen=True)
class SiteBuild:
    """What one `mkdocs build --strict` produced."""

    site: Path
    returncode: int
    output: str
    seconds: float

    def page(self, path: str) -> Path:
        """The built file for a site path such as ``"zh/api/attention/"``."""
        return self.site / path / "index.html" if path == "" or path.endswith("/") else self.site / path


def source_pages() -> list[Path]:
    """Every English page under docs/ (the Chinese twins are ``<page>.zh.md``)."""
    return sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".zh.md"))


def site_path(page: Path, lang: str) -> str:
    """The URL path of a docs page in a language: ``docs/api/index.md`` -> ``"zh/api/"`` for Chinese."""
    relative = page.relative_to(DOCS).with_suffix("").as_posix()
    path = "" if relative == "index" else relative.removesuffix("/index").removesuffix("index") + "/"
    return path if lang == "en" else f"{lang}/{path}"


def write_metrics(**metrics: object) -> None:
    """Add entries to `test-artifacts/site-metrics.json`, keeping the others."""
    path = ARTIFACTS / "site-metrics.json"
    ARTIFACTS.mkdir(exist_ok=True)
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**recorded, **metrics}, indent=2, ensure_ascii=False) + "\n")


@functools.cache
def build_site() -> SiteBuild:
    """Build the site once per test run (strict: any warning fails), or read the build another worker made."""
    if os.environ.get("BOOK_SITE"):
        return SiteBuild(Path(os.environ["BOOK_SITE"]), 0, "(built before: BOOK_SITE)", 0.0)
    run = Path(os.environ["BOOK_TEST_RUN"]) if os.environ.get("BOOK_TEST_RUN") else None
    if run is None:  # imported outside pytest: a folder of its own
        site = Path(tempfile.mkdtemp(prefix="transformer-book-site-"))
        atexit.register(shutil.rmtree, site, ignore_errors=True)
        return _build(site)
    with FileLock(run / "site.lock"):
        record = run / "site.json"
        if record.is_file():
            saved = json.loads(record.read_text(encoding="utf-8"))
            return SiteBuild(Path(saved.pop("site")), **saved)
        build = _kept_or_built(run / "site")
        record.write_text(json.dumps({**asdict(build), "site": str(build.site)}), encoding="utf-8")
        return build


def inputs_digest() -> str:
    """A hash of every file the build may read (the repository but ``NOT_INPUTS``) and of the installed packages."""
    digest = hashlib.sha256()
    for directory, folders, names in os.walk(ROOT):
        folders[:] = sorted(f for f in folders if f not in NOT_INPUTS and not f.endswith(".egg-info"))
        for name in sorted(names):
            path = Path(directory, name)
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    # A set: with the repository on sys.path (as under pytest) the editable install is found twice, its .egg-info too.
    packages = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()})
    digest.update("\n".join([sys.version, *packages]).encode())
    return digest.hexdigest()[:16]


def _kept_or_built(site: Path) -> SiteBuild:
    """Copy the kept build with these inputs into ``site``, or build there and keep the build if it succeeds."""
    key = inputs_digest()
    kept = SITE_CACHE / key
    SITE_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(SITE_CACHE / f"{key}.lock"):
        if (kept / "build.json").is_file():
            shutil.copytree(kept / "site", site)
            return SiteBuild(site, **json.loads((kept / "build.json").read_text(encoding="utf-8")))
        build = _build(site)
        if build.returncode != 0:
            return build
        partial = SITE_CACHE / f"{key}.{os.getpid()}.tmp"
        shutil.copytree(site, partial / "site")
        record = {k: v for k, v in asdict(build).items() if k != "site"}
        (partial / "build.json").write_text(json.dumps(record), encoding="utf-8")
        partial.rename(kept)
    for older in SITE_CACHE.iterdir():  # the builds of other inputs, each under its lock: a copy may be under way
        if older.is_dir() and older.name != key and not older.name.endswith(".tmp"):
            with FileLock(SITE_CACHE / f"{older.name}.lock"):
                shutil.rmtree(older, ignore_errors=True)
            (SITE_CACHE / f"{older.name}.lock").unlink(missing_ok=True)
    return build


def _build(site: Path) -> SiteBuild:
    """Run `mkdocs build --strict` into ``site``, recording the time and the size."""
    ARTIFACTS.mkdir(exist_ok=True)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    build = SiteBuild(site, result.returncode, result.stdout + result.stderr, seconds)
    if result.returncode == 0:
        (ARTIFACTS / "site-metrics.json").unlink(missing_ok=True)  # a new build: the browser test measures it again
        files = [p for p in site.rglob("*") if p.is_file()]
        write_metrics(
            build_seconds=round(seconds, 1),
            site_bytes=sum(p.stat().st_size for p in files),
            site_files=len(files),
            html_pages=sum(p.suffix == ".html" for p in files),
        )
    return build


@dataclass
class ParsedPage:
    """What the site tests look at in one HTML file."""

    lang: str = ""
    ids: set[str] = field(default_factory=set)
    # (tag, attribute, value) of every link or resource: a href, img src, link href, script src, svg a href.
    urls: list[tuple[str, str, str]] = field(default_factory=list)
    # (src, alt) of every <img>; (aria-label) of every inline <svg role="img">.
    images: list[tuple[str, str | None]] = field(default_factory=list)
    svg_labels: list[str | None] = field(default_factory=list)
    hreflang: dict[str, str] = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.page.lang = attributes.get("lang") or ""
        for key in ("id", "name"):
            if attributes.get(key) and (key == "id" or tag == "a"):
                self.page.ids.add(attributes[key] or "")
        for key in ("href", "src", "xlink:href"):
            value = attributes.get(key)
            if value is not None:
                self.page.urls.append((tag, key, value))
        if tag == "img":
            self.page.images.append((attributes.get("src") or "", attributes.get("alt")))
        if tag == "svg" and attributes.get("role") == "img":
            self.page.svg_labels.append(attributes.get("aria-label"))
        if tag == "a" and attributes.get("hreflang") and attributes.get("href"):
            self.page.hreflang[attributes["hreflang"] or ""] = attributes["href"] or ""


@functools.cache
def parse_html(path: Path) -> ParsedPage:
    """Parse one built HTML file (cached: several tests read the same pages)."""
    parser = _Parser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.page
