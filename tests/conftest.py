"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sitebuild import SiteBuild, build_site

# The folder this process made, if it is the one that made it (the controller, or a run without workers).
_RUN_FOLDER = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Make the test run's temporary folder (``BOOK_TEST_RUN``): pytest-xdist's workers, started later, inherit it."""
    if not os.environ.get("BOOK_TEST_RUN"):
        os.environ["BOOK_TEST_RUN"] = tempfile.mkdtemp(prefix="transformer-book-tests-")
        config.stash[_RUN_FOLDER] = os.environ["BOOK_TEST_RUN"]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the folder ``pytest_configure`` made, once every worker is done with it."""
    if _RUN_FOLDER in config.stash:
        shutil.rmtree(config.stash[_RUN_FOLDER], ignore_errors=True)
        del os.environ["BOOK_TEST_RUN"]


@pytest.fixture(scope="session")
def site() -> SiteBuild:
    """The site built once per test run by `mkdocs build --strict`; a failed build fails every test that needs it."""
    build = build_site()
    if build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{build.output[-6000:]}", pytrace=False)
    return build


@pytest.fixture(scope="module")
def server(site: SiteBuild) -> Iterator[str]:
    """The built site, served on 127.0.0.1 as a static host serves it (``browser.serve``)."""
    from browser import serve  # Playwright is imported by the browser tests only

    with serve(site.site) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless (``browser.launch``); fails with what to run when it is not installed."""
    from browser import launch

    try:
        with launch() as chromium:
            yield chromium
    except FileNotFoundError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache of trained models (``TRANSFORMER_BOOK_CACHE``) of the test module's own: its tests train their tiny
    recipes, each once per module, instead of reading what the site build left."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("cache")
        patch.setenv("TRANSFORMER_BOOK_CACHE", str(path))
        yield path
