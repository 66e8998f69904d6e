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
