"""Every English page has a Chinese twin with the same structure and the same code.

Twins must have: the same heading levels in the same order, each with the same explicit ``{#id}``; the same tested
code blocks (```python, ```bash, ```sh), identical once comments are removed (comments may be in the page's
language); the same expected outputs; the same pytest-codeblocks markers; the same figure blocks (```python
exec="on"), calling the same functions; the same mkdocstrings directives (`::: transformer.X`). Prose, alt text and
comments are free to differ.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest
from pytest_codeblocks.main import extract_from_file

import transformer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TESTED_SYNTAX = {"python", "bash", "sh"}  # what pytest-codeblocks runs
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def english_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".zh.md"))


def twin(page: Path) -> Path:
    return page.with_name(page.stem + ".zh.md")


def outside_fences(page: Path) -> list[str]:
    """The page's lines that are not inside a fenced block."""
    lines, fence = [], None
    for line in page.read_text(encoding="utf-8").splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence = match["fence"]
        elif fence is not None and match and match["fence"].startswith(fence) and not match["info"].strip():
            fence = None
        elif fence is None:
            lines.append(line)
    return lines


def headings(page: Path) -> list[str]:
    """The heading levels in order, e.g. ``["#", "##", "###", "##"]``."""
    return [m[1] for line in outside_fences(page) if (m := re.match(r"(#{1,6})\s", line))]


def heading_ids(page: Path) -> list[str | None]:
    """The explicit id of every heading (``## Title {#id}``), ``None`` where a heading has none."""
    ids = []
    for line in outside_fences(page):
        if re.match(r"#{1,6}\s", line):
            match = re.search(r"\{#([^}\s]+)\}\s*$", line)
            ids.append(match[1] if match else None)
    return ids


def directives(page: Path) -> list[str]:
    """The mkdocstrings directives (``::: transformer.X``) with the indented options under them."""
    return [line.rstrip() for line in outside_fences(page) if line.startswith(":::")]


def without_comments(code: str) -> list[tuple[int, str]]:
    """The code's tokens without comments and blank lines: what must match between the languages."""
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return [(t.type, t.string) for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL)]


def run_blocks(page: Path) -> list[dict[str, object]]:
    """The blocks pytest-codeblocks runs, as it sees them (chains joined), with output and markers."""
    return [
        {
            "line": block.lineno,
            "syntax": block.syntax,
            "code": block.code,
            "expected_output": block.expected_output,
            "marks": block.marks,
            "importorskip": block.importorskip,
        }
        for block in extract_from_file(page)
        if block.syntax in TESTED_SYNTAX
    ]


def figure_calls(page: Path) -> list[list[str]]:
    """For each build-time block (```python exec=...), the names it imports and calls."""
    blocks = [b for b in extract_from_file(page) if (b.syntax or "").startswith("python ")]
    calls = []
    for block in blocks:
        tree = ast.parse(block.code)
        imported = [
            f"{node.module}.{a.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names
        ]
        called = [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]
        calls.append(sorted(imported) + sorted(called))
    return calls


def page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def test_every_chinese_page_has_an_english_twin() -> None:
    orphans = [p for p in DOCS.rglob("*.zh.md") if not p.with_name(p.name.removesuffix(".zh.md") + ".md").is_file()]
    assert orphans == []


@pytest.mark.parametrize("page", english_pages(), ids=page_id)
def test_twins_have_the_same_structure_and_code(page: Path) -> None:
    zh = twin(page)
    assert zh.is_file(), f"{page_id(page)} has no Chinese twin {page_id(zh)}"
    assert headings(zh) == headings(page), "heading levels differ"
    # The same explicit id on both twins: the language switcher keeps the #fragment, so it must exist on the twin.
    missing = [n for n, heading_id in enumerate(heading_ids(page)) if heading_id is None]
    assert missing == [], f"headings number {missing} have no explicit {{#id}}"
    assert heading_ids(zh) == heading_ids(page), "heading ids differ"
    assert directives(zh) == directives(page), "mkdocstrings directives differ"
    en_blocks, zh_blocks = run_blocks(page), run_blocks(zh)
    assert len(zh_blocks) == len(en_blocks), "not the same number of tested code blocks (after joining chains)"
    for en_block, zh_block in zip(en_blocks, zh_blocks, strict=True):
        where = f"{page_id(page)} line {en_block['line']} vs {page_id(zh)} line {zh_block['line']}"
        assert zh_block["syntax"] == en_block["syntax"], where
        if en_block["syntax"] == "python":
            assert without_comments(zh_block["code"]) == without_comments(en_block["code"]), f"{where}: code"
        else:
            assert zh_block["code"] == en_block["code"], f"{where}: commands"
        assert zh_block["expected_output"] == en_block["expected_output"], f"{where}: expected output"
        assert (zh_block["marks"], zh_block["importorskip"]) == (en_block["marks"], en_block["importorskip"]), (
            f"{where}: pytest-codeblocks markers"
        )
    assert figure_calls(zh) == figure_calls(page), "the build-time figure blocks differ"


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=page_id)
def test_figure_blocks_are_not_run_by_pytest_codeblocks(page: Path) -> None:
    """A figure block must keep its exec options: a bare ```python block would be run (and shown) instead."""
    for block in extract_from_file(page):
        if block.syntax in TESTED_SYNTAX:
            assert "figure_html(" not in block.code, f'line {block.lineno}: a figure block needs exec="on" html="1"'


def test_api_pages_document_every_public_name() -> None:
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        documented |= set(re.findall(r"^::: transformer\.(?:\w+\.)?(\w+)\s*$", text, re.MULTILINE))
    missing = sorted(set(transformer.__all__) - documented)
    assert missing == [], (
        f"add `::: transformer.NAME` to the API page of its module (docs/api/*.md and .zh.md): {missing}"
    )


def test_abbreviations_agree_with_the_glossary() -> None:
    glossary = {
        (zh.strip(), en.strip())
        for line in (DOCS / "glossary.md").read_text(encoding="utf-8").splitlines()
        if (m := re.match(r"\|([^|]+)\|([^|]+)\|", line))
        for en, zh in [m.groups()]
    }
    abbreviations = re.findall(r"^\*\[(.+?)\]: (.+)$", (ROOT / "includes/abbreviations.md").read_text("utf-8"), re.M)
    assert abbreviations
    assert [(en, zh) for en, zh in abbreviations if (zh, en) not in glossary] == []


def test_chapter_map_links_every_chapter_and_marks_the_placeholders() -> None:
    from book.figures.overview import CHAPTERS, chapter_map

    for lang, coming_soon in (("en", "coming soon"), ("zh", "编写中")):
        rows = chapter_map(lang).splitlines()[2:]
        assert len(rows) == len(CHAPTERS)
        for row, chapter in zip(rows, CHAPTERS, strict=True):
            assert f"]({chapter.slug}/)" in row
            assert "{#" not in row, f"the heading's id leaked into the title: {row}"
            assert (f"*({coming_soon})*" in row) == chapter.is_placeholder(lang), row
