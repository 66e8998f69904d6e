"""The book's arithmetic (book/numerics.py): set before torch starts, part of every cache key, and what the tests
excuse where a CPU cannot compute in it (conftest.py)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

from book import numerics

ROOT = Path(__file__).resolve().parents[1]
MISMATCH = "docs/page.md, line 3:\n```\nExpected output\n```\n0.629\n```\nbut got\n```\n0.124\n```"


def test_the_tests_compute_in_the_pinned_arithmetic():
    """conftest.py pinned it before torch was imported: torch runs its AVX2 kernels, on one thread."""
    assert all(numerics.os.environ[name] == value for name, value in numerics.PINNED.items())
    arithmetic = numerics.arithmetic()
    assert arithmetic["threads"] == 1
    if platform.machine() in {"x86_64", "AMD64"}:
        assert arithmetic["cpu"] in {"AVX2", "DEFAULT"}  # never AVX-512: DEFAULT only on a CPU without AVX2


def test_pin_refuses_once_torch_runs_with_other_settings(monkeypatch):
    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    with pytest.raises(RuntimeError, match=r"ATEN_CPU_CAPABILITY.*before the first `import torch`"):
        numerics.pin()


def _runtest_call(config: pytest.Config):
    """The root conftest.py's hook (tests/ has a conftest.py too, so neither is importable by name)."""
    (plugin,) = [
        p for p in config.pluginmanager.get_plugins() if getattr(p, "__file__", None) == str(ROOT / "conftest.py")
    ]
    return plugin.pytest_runtest_call


class _Block:
    """What the hook reads of a page's block: its markers."""

    def __init__(self, *markers: str) -> None:
        self.markers = markers

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.markers else None


def _call(hook, item: _Block, error: Exception) -> None:
    call = hook(item)
    next(call)
    call.throw(error)


@pytest.mark.parametrize("reproduces", [True, False])
def test_a_trained_block_printing_other_numbers_is_an_xfail_only_off_the_books_arithmetic(
    request, monkeypatch, reproduces
):
    hook = _runtest_call(request.config)
    monkeypatch.setitem(hook.__globals__, "reproduces_the_book", lambda: reproduces)
    if reproduces:
        with pytest.raises(RuntimeError, match="but got"):
            _call(hook, _Block("trained"), RuntimeError(MISMATCH))
    else:
        with pytest.raises(pytest.xfail.Exception, match="prints other numbers in this arithmetic"):
            _call(hook, _Block("trained"), RuntimeError(MISMATCH))


def test_only_the_printed_numbers_of_a_trained_block_are_excused(request, monkeypatch):
    hook = _runtest_call(request.config)
    monkeypatch.setitem(hook.__globals__, "reproduces_the_book", lambda: False)
    with pytest.raises(RuntimeError, match="but got"):  # a block not marked fails as everywhere
        _call(hook, _Block(), RuntimeError(MISMATCH))
    with pytest.raises(RuntimeError, match="division by zero"):  # a marked block that fails to run fails too
        _call(hook, _Block("trained"), RuntimeError("docs/page.md, line 3:\n```\n1 / 0\n```\n\ndivision by zero"))


def test_every_block_that_trains_or_loads_a_trained_model_and_prints_is_marked():
    """A new page's block that prints from a training run needs the mark too, or an Intel CPU fails the tests."""
    unmarked = [
        f"{page.name}::line {block.lineno}"
        for page in sorted((ROOT / "docs").glob("*.md"))
        for block in extract_from_file(page)
        if block.expected_output is not None
        and any(call in block.code for call in ("cached_", "train_steps(", '"train"'))
        and "pytest.mark.trained" not in block.marks
    ]
    assert not unmarked, f"add <!--pytest.mark.trained--> before these blocks, in both languages: {unmarked}"
