"""The package the book teaches stands alone; the book's machinery (``book``) knows what its caches depend on."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import transformer
from book.digest import ROOT, code_digest, modules_used

# What only the book needs: drawing, the site, the notebooks.
BOOK_ONLY = ("matplotlib", "mkdocs", "markdown_exec", "nbformat", "nbclient", "pytest_codeblocks", "jieba", "book")


def test_transformer_imports_without_the_books_dependencies():
    """Every module of ``transformer`` imports in a fresh interpreter in which the book's dependencies fail to."""
    # __main__ runs the command line when imported; it only imports transformer.cli, which is in the list
    modules = sorted(
        info.name
        for info in pkgutil.walk_packages(transformer.__path__, "transformer.")
        if info.name != "transformer.__main__"
    )
    assert "transformer.cli" in modules and not any(name.startswith("transformer.figures") for name in modules)
    script = f"""
import importlib, importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BOOK_ONLY!r}:
            raise ImportError(f"{{name}} is the book's, not the package's")

sys.meta_path.insert(0, Blocked())
for name in {modules!r}:
    importlib.import_module(name)
print(len({modules!r}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT / "tests")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(modules))


def test_a_training_run_depends_on_the_modules_it_runs_and_no_others():
    used = {path.relative_to(ROOT).as_posix() for path in modules_used("from transformer.tasks import CopyTask")}
    assert {"transformer/tasks.py", "transformer/training.py", "transformer/attention.py"} <= used
    # the command line, the number task and the package's __init__ (which re-exports them) are not run by the copy task
    assert not used & {"transformer/cli.py", "transformer/numbers.py", "transformer/__init__.py"}


def test_importing_a_package_itself_counts_its_init():
    used = {path.relative_to(ROOT).as_posix() for path in modules_used("from book.figures import figure_html")}
    assert {"book/figures/__init__.py", "book/figures/_common.py", "transformer/checkpoints.py"} <= used
    assert "book/figures/errors.py" not in used


def test_the_digest_follows_the_modules_used():
    source = "from transformer.tasks import CopyTask"
    assert code_digest(source) == code_digest(source)
    assert code_digest(source) != code_digest("from transformer.numbers import NumberTask")
    assert code_digest("import os, numpy") == code_digest("")  # only this repository's modules count
