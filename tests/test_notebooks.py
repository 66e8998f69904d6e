"""The chapters' notebooks (book/notebooks.py): made from the pages, run in a fresh kernel, downloadable from the site.

Each notebook runs in its own kernel with one thread, as the book's outputs were made, and every chain of code cells
must print what its page shows. A run is kept in .cache/notebook-runs/ and repeated only when the notebook, a module
it imports or an installed version changes. The site test checks that the built site serves the same notebooks, with
the figures the pages show, and links to them from each chapter.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from pytest_codeblocks import extract_from_file

from book import notebooks
from book.digest import code_digest
from book.numerics import arithmetic, reproduces_the_book

ROOT = Path(__file__).resolve().parents[1]
# What the notebooks' runs printed, by what it depends on (``_run_key``): a run is repeated only when that changed.
# BOOK_NOTEBOOK_RUNS=<empty folder> runs them all (benchmarks/run.py book times them so).
RUNS = Path(os.environ.get("BOOK_NOTEBOOK_RUNS", ROOT / ".cache" / "notebook-runs"))

PAGES = [(page, lang) for page in notebooks.CHAPTERS for lang in notebooks.LANGUAGES]
IDS = [notebooks.notebook_name(page, lang) for page, lang in PAGES]


def test_chapters_are_the_sites():
    """The exporter's chapters are those of mkdocs.yml's "Chapters" section, in its order."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    section = re.search(r"^  - Chapters:\n((?:      - .*\n)+)", config, re.MULTILINE)[1]
    assert tuple(re.findall(r"- (\S+)\.md", section)) == notebooks.CHAPTERS


@pytest.mark.parametrize(("page", "lang"), PAGES, ids=IDS)
def test_notebook_is_the_page(page, lang):
    """Valid nbformat; every tested block a code cell; prose with Jupyter's math and no markers or site syntax."""
    nbformat = pytest.importorskip("nbformat", reason="the notebooks extra: pip install -e '.[notebooks]'")
    notebook = notebooks.export(page, lang)  # raises unless the code cells are what pytest-codeblocks runs
    nbformat.validate(nbformat.from_dict(notebook.as_json(lang)))
    markdown = "\n".join(cell["source"] for cell in notebook.cells if cell["cell_type"] == "markdown")
    for leftover in ("<!--", "{#", "\\(", "\\[", "!!! ", "??? ", "][transformer.", ".md)", ".md#"):
        assert leftover not in markdown, f"{page} ({lang}): {leftover!r} left in a Markdown cell"
    for cell in notebook.cells:
        if cell["cell_type"] == "markdown":
            assert not cell["source"].startswith("    "), f"{page} ({lang}): a Markdown cell that would be code"
    # Solutions that hold code are folded: their code cells are hidden until the reader opens them.
    lines = notebooks.page_path(page, lang).read_text(encoding="utf-8").splitlines(keepends=True)
    folds = any(
        line.lstrip().startswith("???") and notebooks._holds_tested_code(lines, i) for i, line in enumerate(lines)
    )
    hidden = [cell for cell in notebook.cells if cell["metadata"].get("jupyter", {}).get("source_hidden")]
    assert bool(hidden) == folds


def test_refuses_what_is_not_a_chapter():
    with pytest.raises(ValueError, match=r"page: expected one of the chapters tensors, .*, got 'glossary'"):
        notebooks.export("glossary", "en")
    with pytest.raises(ValueError, match=r"lang: expected one of en, zh, got 'fr'"):
        notebooks.export("attention", "fr")


def test_command_line_refuses_an_unknown_page(capsys):
    with pytest.raises(SystemExit) as exit_info:
        notebooks.main(["atention"])
    assert exit_info.value.code == 2
    assert "PAGE: expected chapters among tensors, autograd," in capsys.readouterr().err


def test_a_page_the_tests_read_otherwise_is_refused(tmp_path, monkeypatch):
    """A block the exporter would miss (here: a marker it does not know) fails the export, naming the block's line."""
    page = tmp_path / "tensors.md"
    page.write_text(
        "# 1. Tensors\n\n```python\nprint(1)\n```\n\n<!--pytest-codeblocks:cont-->\n\n```python\nprint(2)\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(notebooks, "page_path", lambda name, lang: page)
    monkeypatch.setattr(notebooks, "ROOT", tmp_path)
    monkeypatch.setattr(notebooks, "_split", lambda lines, start: iter([]))
    with pytest.raises(
        ValueError, match=r"tensors.md: expected .* the 1 blocks pytest-codeblocks runs, got 0 chains, .* line 3"
    ):
        notebooks.export("tensors", "en")


def test_command_line_writes_both_languages(tmp_path, capsys):
    assert notebooks.main(["tensors", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tensors.ipynb", "tensors.zh.ipynb"]
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / "tensors.ipynb"), str(tmp_path / "tensors.zh.ipynb")]


def _stdout(cell: dict) -> str:
    return "".join(o["text"] for o in cell["outputs"] if o["output_type"] == "stream" and o["name"] == "stdout")


@pytest.mark.parametrize("page", notebooks.CHAPTERS)
def test_notebooks_run_and_print_the_page(page, monkeypatch):
    """A fresh kernel per notebook, one thread: every chain of code cells prints exactly the output its page shows.

    The two languages of a chapter run at the same time, each in its own kernel: a kernel uses one thread, so on two
    cores the pair takes the time of one. A notebook whose run is in the cache with the same key (``_run_key``: its
    code, the modules it imports, the versions) is not run again: what that run printed is checked instead.
    """
    nbformat = pytest.importorskip("nbformat", reason="the notebooks extra: pip install -e '.[notebooks]'")
    nbclient = pytest.importorskip("nbclient", reason="the notebooks extra: pip install -e '.[notebooks]'")
    pytest.importorskip("ipykernel", reason="the notebooks extra: pip install -e '.[notebooks]'")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernels inherit it: one thread from their first line of torch
    exported = {lang: notebooks.export(page, lang) for lang in notebooks.LANGUAGES}
    keys = {lang: _run_key(notebook.as_json(lang)) for lang, notebook in exported.items()}
    printed = {lang: _reused(page, lang, key) for lang, key in keys.items()}
    runs = {
        lang: nbformat.from_dict(notebook.as_json(lang)) for lang, notebook in exported.items() if printed[lang] is None
    }
    seconds = {}

    async def execute(lang: str) -> None:
        start = time.perf_counter()
        # The kernel works in the repository's root, as the pages' blocks do under pytest (the figures' cache is there).
        # On a fresh clone a cell may wait for a model that another test worker is training: an hour per cell.
        client = nbclient.NotebookClient(
            runs[lang], timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        )
        await client.async_execute()
        seconds[lang] = time.perf_counter() - start

    async def execute_all() -> None:
        await asyncio.gather(*(execute(lang) for lang in runs))

    asyncio.run(execute_all())
    for lang, run in runs.items():
        printed[lang] = {str(i): _stdout(cell) for i, cell in enumerate(run.cells) if cell["cell_type"] == "code"}
    excused = []  # blocks marked `trained` that print other numbers, in an arithmetic not the book's
    for lang, notebook in exported.items():
        path = notebooks.page_path(page, lang)
        trained = {block.lineno for block in extract_from_file(path) if "pytest.mark.trained" in block.marks}
        for indices, expected in notebook.chains:
            if expected is None:
                continue
            got = "".join(printed[lang][str(i)] for i in indices)
            line = notebook.cells[indices[0]]["metadata"]["book"]["line"]
            if got != expected and line in trained and not reproduces_the_book():
                excused.append(f"{path.name}:{line}")
                continue
            assert got == expected, f"{path.relative_to(ROOT)}, block at line {line}"
    for lang in runs:  # only runs that printed what the page shows, trained blocks excused as above, are kept
        _keep(page, lang, keys[lang], printed[lang])
        _record_time(notebooks.notebook_name(page, lang), seconds[lang])
    if excused:
        pytest.xfail(f"training runs print other numbers in this arithmetic, {arithmetic()}: {', '.join(excused)}")


def _run_key(notebook: dict) -> str:
    """What a notebook's run prints depends on: its code, the repository's modules it imports, the installed versions.

    The modules are followed through their own imports (``book.digest``), as for the figures' cache; the versions
    are Python's and torch's, the arithmetic (``book.numerics``) and every pinned dependency (constraints.txt:
    num2words, cn2an, ...). The models the notebooks load from the book's cache are keyed by the same modules.
    Jupyter Book skips unchanged notebooks the same way (jupyter-cache); a fresh clone, as in CI, has no cache and
    runs them all.
    """
    code = [cell["source"] for cell in notebook["cells"] if cell["cell_type"] == "code"]
    versions = [sys.version, torch.__version__, arithmetic(), (ROOT / "constraints.txt").read_text(encoding="utf-8")]
    return hashlib.sha256(json.dumps([versions, code, code_digest("\n".join(code))]).encode()).hexdigest()[:16]


def _run_file(page: str, lang: str, key: str) -> Path:
    return RUNS / f"{notebooks.notebook_name(page, lang)}-{key}.json"


def _reused(page: str, lang: str, key: str) -> dict[str, str] | None:
    """What the code cells (by index) of the last run with this key printed, or ``None`` if there was none."""
    path = _run_file(page, lang, key)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _keep(page: str, lang: str, key: str, printed: dict[str, str]) -> None:
    path = _run_file(page, lang, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(printed, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)  # atomic: two test sessions at once never read half a file


def _record_time(name: str, seconds: float) -> None:
    """Each notebook's run time into test-artifacts/notebook-times.json (git-ignored): which chapters are slow."""
    path = ROOT / "test-artifacts" / "notebook-times.json"
    path.parent.mkdir(exist_ok=True)
    with FileLock(path.with_suffix(".lock")):  # the workers of `make test` write it in turn, losing no entry
        times = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        times[name] = round(seconds, 2)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        partial.replace(path)


@pytest.mark.site
@pytest.mark.parametrize(("page", "lang"), PAGES, ids=IDS)
def test_site_serves_the_notebook(site, page, lang):
    """The built site holds the notebook, with the code above and the page's figures, and the page links to it."""
    name = notebooks.notebook_name(page, lang)
    served = json.loads((site.site / "notebooks" / name).read_text(encoding="utf-8"))
    expected = notebooks.export(page, lang).as_json(lang)
    code = [c["source"] for c in served["cells"] if c["cell_type"] == "code"]
    assert code == [c["source"] for c in expected["cells"] if c["cell_type"] == "code"]
    figures = notebooks.page_path(page, lang).read_text(encoding="utf-8").count("figure_html(")
    attached = [c for c in served["cells"] if c.get("attachments")]
    assert len(attached) == figures, f"{name}: {figures} figures on the page, {len(attached)} in the notebook"
    for cell in served["cells"]:
        assert "On the page, this code's output appears here" not in cell["source"]
        assert "网页上，这里显示的是" not in cell["source"]
    html = site.page(("" if lang == "en" else f"{lang}/") + f"{page}/").read_text(encoding="utf-8")
    link = re.search(r'<a class="md-button" href="([^"]+)" download>([^<]+)</a>', html)
    assert link, f"{page} ({lang}): no download link"
    assert link[2] == notebooks.TEXT[lang]["download"]
    assert link[1] == ("../" if lang == "en" else "../../") + f"notebooks/{name}"
