"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest
from sitebuild import SiteBuild, build_site


@pytest.fixture(scope="session")
def site() -> SiteBuild:
    """The site built once per session by `mkdocs build --strict`; a failed build fails every test that needs it."""
    build = build_site()
    if build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{build.output[-6000:]}", pytrace=False)
    return build
