"""Settings for every test, the pages' code blocks included."""

from book.numerics import arithmetic, pin, reproduces_the_book

# The book's printed outputs and its cached models are made in one arithmetic, in the tests and in the site build
# alike (book/exec_cache.py): torch's AVX2 kernels (set before torch is imported), and one thread, since a float sum
# split over several threads is added in another order. So they come out the same on every AMD CPU with AVX2; an
# Intel CPU's MKL adds in another order, and the trained models' outputs differ (book/numerics.py measures it).
pin()

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _doctest_torch(doctest_namespace: dict) -> None:
    """The docstrings' examples use ``torch`` as every reader of this package imports it."""
    doctest_namespace["torch"] = torch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Where the arithmetic is not the book's, a block marked ``trained`` that prints other numbers is an xfail.

    It still ran to its end: only the printed numbers of a training run differ, which no CPU setting can make equal
    (book/numerics.py). Any other failure of the block, and any block not marked, fails as everywhere.
    """
    try:
        return (yield)
    except RuntimeError as error:
        if item.get_closest_marker("trained") and "```\nbut got\n```" in str(error) and not reproduces_the_book():
            pytest.xfail(f"a training run prints other numbers in this arithmetic, {arithmetic()} (book/numerics.py)")
        raise


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
