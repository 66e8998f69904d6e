"""Chapter 8 shows the command line's output in a ```console block, which pytest-codeblocks does not run: this
test runs the command and checks that it prints what the page shows, the measured times aside.

The run takes half a minute of a core. What it prints depends only on the package's code, the installed versions
and the one thread it runs on, so it is kept in .cache/cli-runs/ and run again only when one of them changes, as the
notebooks' runs are (tests/test_notebooks.py). A fresh clone, as in CI, runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from book.digest import code_digest
from book.numerics import arithmetic

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNS = ROOT / ".cache" / "cli-runs"
COMMAND = "OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2 python -m transformer train --task copy --out runs/copy"
TIMES = ("seconds", "tokens_per_second")  # measured: they differ on every run and every machine


def shown(page: Path) -> tuple[str, dict]:
    """The progress bar's last line and the summary that ``page`` shows under ``$ COMMAND``."""
    text = page.read_text(encoding="utf-8")
    match = re.search(r"```console\n\$ " + re.escape(COMMAND) + r"\n(.*?)\n```", text, re.DOTALL)
    assert match, f"{page.name}: no console block runs {COMMAND!r}"
    bar, summary = match[1].splitlines()
    return bar, json.loads(summary)


def without_times(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if key not in TIMES}


def test_both_languages_show_the_same_run() -> None:
    assert shown(DOCS / "training.md") == shown(DOCS / "training.zh.md")


def run_file() -> Path:
    """The file a run is kept in, named by a hash of what the command's output depends on: the package's modules
    (``book.digest``), Python, torch, the arithmetic (``book.numerics``) and the pins."""
    versions = [sys.version, torch.__version__, arithmetic(), (ROOT / "constraints.txt").read_text(encoding="utf-8")]
    code = code_digest("import transformer\nimport transformer.__main__")
    key = hashlib.sha256(json.dumps([versions, COMMAND, code]).encode()).hexdigest()[:16]
    return RUNS / f"train-copy-{key}.json"


def run_command(cwd: Path) -> dict[str, str]:
    """The command's standard output and error, from a new run."""
    result = subprocess.run(
        [sys.executable, "-m", "transformer", "train", "--task", "copy", "--out", "runs/copy"],
        cwd=cwd,
        # one thread and torch's AVX2 kernels, as the page says: the same run on every AMD CPU (book/numerics.py)
        env={**os.environ, "OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {"stdout": result.stdout, "stderr": result.stderr}


def keep(path: Path, printed: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(printed, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)  # atomic: two test sessions at once never read half a file


def test_the_command_line_prints_what_chapter_8_shows(tmp_path: Path) -> None:
    bar, expected = shown(DOCS / "training.md")
    kept = run_file()
    printed = json.loads(kept.read_text(encoding="utf-8")) if kept.is_file() else run_command(tmp_path)
    summary = json.loads(printed["stdout"])
    assert list(summary) == list(expected), "the summary's keys changed: run the command and update the page"
    assert without_times(summary) == without_times(expected)
    assert all(summary[key] > 0 for key in TIMES)
    steps = f"{summary['steps']}/{summary['steps']}"
    assert bar.startswith("train: 100%") and steps in bar
    assert steps in printed["stderr"]  # the progress bar, on standard error
    if not kept.is_file():
        keep(kept, printed)  # only a run that printed what the page shows is kept
