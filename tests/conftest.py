"""Fixtures shared by the test modules, and how `make test` spreads them over workers."""

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests for `make test`, which runs them on pytest-xdist's workers with ``--dist loadgroup``.

    A group runs in one worker. Every test of the built site is in one group, so the site is built once; every
    other test is grouped with its file, whose module fixtures (trained models) are then made once. Without xdist
    the groups are ignored.
    """
    for item in items:
        site = item.get_closest_marker("site") or "site" in getattr(item, "fixturenames", ())
        item.add_marker(pytest.mark.xdist_group("site" if site else item.nodeid.split("::")[0]))
