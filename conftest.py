"""Settings for every test, the pages' code blocks included."""

import pytest
import torch

# A float sum split over several threads is added in another order, so training runs drift apart after a few dozen
# steps. The book's printed outputs and its cached models are made with one thread, in the tests and in the site
# build alike (book/exec_cache.py), so they are the same on every machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _doctest_torch(doctest_namespace: dict) -> None:
    """The docstrings' examples use ``torch`` as every reader of this package imports it."""
    doctest_namespace["torch"] = torch


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    """Run a Chinese page's code blocks once, as its English twin's, unless the page is named on the command line.

    tests/test_docs_parity.py proves the twins' tested blocks the same: the same code once comments are removed, the
    same expected outputs, the same pytest-codeblocks markers. Running them again from the Chinese page repeated
    every training and every output of the book (about a minute of the two cores' time) and could find nothing the
    English page had not. The Chinese notebooks still run on their own (tests/test_notebooks.py).
    """
    if not collection_path.name.endswith(".zh.md"):
        return None
    named = {(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.invocation_params.args}
    return collection_path.resolve() not in named
