"""Chapter 8 shows the command line's output in a ```console block, which pytest-codeblocks does not run: this
test runs the command and checks that it prints what the page shows, the measured times aside."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
COMMAND = "OMP_NUM_THREADS=1 python -m transformer train --task copy --out runs/copy"
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


def test_the_command_line_prints_what_chapter_8_shows(tmp_path: Path) -> None:
    bar, expected = shown(DOCS / "training.md")
    result = subprocess.run(
        [sys.executable, "-m", "transformer", "train", "--task", "copy", "--out", "runs/copy"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # one thread, as the page says: the same run everywhere
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert list(summary) == list(expected), "the summary's keys changed: run the command and update the page"
    assert without_times(summary) == without_times(expected)
    assert all(summary[key] > 0 for key in TIMES)
    steps = f"{summary['steps']}/{summary['steps']}"
    assert bar.startswith("train: 100%") and steps in bar
    assert steps in result.stderr  # the progress bar, on standard error
