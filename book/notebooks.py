"""A Jupyter notebook for every chapter page, in its language, made from the page's Markdown.

The notebook holds exactly the code the tests run: the page is read by pytest-codeblocks' own parser
(``extract_from_file``), and every tested ```` ```python ```` block becomes a code cell, in order; the blocks of a
chain (``<!--pytest-codeblocks:cont-->``) stay separate cells and the chain's expected output is the output of its
last cell. The prose becomes Markdown cells: math in Jupyter's ``$``/``$$`` delimiters, admonitions as quotes,
collapsed exercise solutions (their code cells folded), no ``<!-- -->`` markers, links to the site. A figure block
(```` ```python exec="on" ````, run when the site is built) becomes the figure it drew, embedded in the notebook;
outside a site build, where nothing was drawn, it becomes the code that draws it. Each code cell starts with the
output the page shows, so a notebook reads like its page before it is run.

Used in two ways:

- as an mkdocs hook (``mkdocs.yml``: ``hooks:``), which writes ``notebooks/<page>.ipynb`` and
  ``notebooks/<page>.zh.ipynb`` into the built site and puts a "Download notebook" link under each chapter's title;
- from the command line, without mkdocs: ``python -m book.notebooks --out notebooks`` writes every chapter's
  notebooks (figures as the code that draws them). ``tests/test_notebooks.py`` runs them in a fresh kernel.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_codeblocks import extract_from_file

from book.numerics import PINNED

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The chapters, in the order of mkdocs.yml's "Chapters" section (tests/test_notebooks.py checks that they agree).
CHAPTERS = (
    "tensors",
    "autograd",
    "embeddings",
    "positional-encoding",
    "attention",
    "encoder",
    "decoder",
    "training",
    "translation",
    "descendants",
)
LANGUAGES = ("en", "zh")
# Where the site is deployed (mkdocs.yml's site_url): a notebook's links to other pages point there.
SITE_URL = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.MULTILINE)[1]

TEXT = {
    "en": {
        "download": "Download notebook",
        "intro": (
            "This notebook is made from the page [{title}]({url}) of *The Transformer, executable*: the same code, "
            "the same outputs. Run the cells in order; the first sets PyTorch's arithmetic as the book's outputs were "
            "made: its AVX2 kernels and one thread. On an AMD CPU the outputs then come out the same to the last "
            "digit; on an Intel or ARM CPU, the trained models print other numbers."
        ),
        "arithmetic": (
            "# The book's arithmetic, set before torch is imported: AVX2 kernels and one thread. Other kernels, or a\n"
            "# sum split over threads, add floats in another order, and a training run drifts apart."
        ),
        "drawn_by": "*On the page, this code's output appears here:*",
    },
    "zh": {
        "download": "下载 Notebook",
        "intro": (
            "本 notebook 由《可执行的 Transformer》的页面 [{title}]({url}) 生成：代码相同，输出也相同。"
            "请按顺序运行各个单元格；第一个单元格把 PyTorch 的算术设成书中输出所用的那一套：AVX2 内核、单线程。"
            "这样在 AMD 的 CPU 上，输出连最后一位都相同；换成 Intel 或 ARM 的 CPU，训练出的模型打印的数字就会不同。"
        ),
        "arithmetic": (
            "# 书中的算术，要在导入 torch 之前设好：AVX2 内核、单线程。\n"
            "# 换一套内核或多线程求和，浮点数的相加顺序就不同，训练过程会越走越偏。"
        ),
        "drawn_by": "*网页上，这里显示的是下面这段代码的输出：*",
    },
}

MARKER = re.compile(r"<!--[-\s]*(pytest-codeblocks:.*|pytest\.mark\..*)-->")
ADMONITION = re.compile(r'^(?P<indent> *)(?P<kind>!!!|\?\?\?\+?|===) *(?P<type>[\w-]*)(?: *"(?P<title>[^"]*)")?\s*$')
HEADING_ATTRIBUTES = re.compile(r"\s*\{[#.:][^}]*\}\s*$")
MD_LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)\s]+?)\.md(#[^)\s]*)?\)")
AUTOREF = re.compile(r"\[([^\]]+)\]\[[\w.]+\]")
INLINE_MATH = re.compile(r"\\\((.+?)\\\)")
FIGURE_IMG = re.compile(r'<img src="data:(image/[\w+.-]+);base64,([A-Za-z0-9+/=]+)"(?: alt="([^"]*)")?')


@dataclass
class Fence:
    """A fenced block of the page, as pytest-codeblocks reads it."""

    line: int  # the opening fence's line, 1-based: pytest-codeblocks' test id (``docs/page.md::line N``)
    indent: int
    info: str  # what follows the backticks: ``python``, ``python exec="on" html="1"``, ``text``
    body: str  # dedented by the fence's indentation
    markers: list[str] = field(default_factory=list)  # the pytest-codeblocks markers just before it


@dataclass
class Notebook:
    """A page's notebook and what the tests compare its run with."""

    cells: list[dict[str, Any]]
    # For each chain of tested blocks: the indices of its code cells and the output the page shows (None: unchecked).
    chains: list[tuple[list[int], str | None]]

    def as_json(self, lang: str) -> dict[str, Any]:
        """The notebook in nbformat 4.5's JSON structure."""
        return {
            "cells": self.cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
                "book": {"language": lang},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }


def page_path(page: str, lang: str) -> Path:
    """The Markdown file of a page in a language: ``attention``, ``zh`` -> ``docs/attention.zh.md``."""
    return DOCS / (f"{page}.md" if lang == "en" else f"{page}.{lang}.md")


def notebook_name(page: str, lang: str) -> str:
    """The notebook's file name: ``attention.ipynb`` (English), ``attention.zh.ipynb`` (Chinese)."""
    return f"{page}.ipynb" if lang == "en" else f"{page}.{lang}.ipynb"


def page_url(page: str, lang: str) -> str:
    """The page's address on the deployed site."""
    return f"{SITE_URL}{'' if lang == 'en' else lang + '/'}{page}/"


def _split(lines: list[str], start: int) -> Iterator[tuple[int, str] | Fence]:
    """The page from line ``start`` (0-based) as prose lines and fences, read with pytest-codeblocks' rules.

    As in pytest-codeblocks, a fence ends at the first line that starts, after its indentation, with as many backticks
    as opened it; its body loses the fence's indentation; a marker applies to the next fence, whatever comes between.
    """
    markers: list[str] = []
    number = start
    while number < len(lines):
        line = lines[number]
        number += 1
        stripped = line.lstrip()
        marker = MARKER.fullmatch(line.strip())
        if marker:
            markers.append(marker[1].strip("- "))
            continue
        if not stripped.startswith("```"):
            yield number - 1, line
            continue
        ticks = len(stripped) - len(stripped.lstrip("`"))
        indent = len(line) - len(stripped)
        opening = number
        body = []
        while number < len(lines) and not lines[number].lstrip().startswith("`" * ticks):
            body_line = lines[number]
            # pytest-codeblocks drops a blank line's newline here; the notebook keeps the blank lines the page shows
            body.append(body_line[min(indent, len(body_line) - len(body_line.lstrip())) :] or "\n")
            number += 1
        number += 1
        yield Fence(opening, indent, stripped[ticks:].strip(), "".join(body), markers)
        markers = []


def _tested(fence: Fence) -> bool:
    return fence.info == "python" and not any(m.startswith("pytest.mark.skip") for m in fence.markers)


def _markdown_source(lines: list[str], lang: str) -> str:
    """Prose in Jupyter's Markdown: admonitions, math delimiters, heading attributes and site links converted.

    A collapsible admonition (``???``, an exercise's solution) becomes ``<details>``, a note or a warning (``!!!``) a
    quote with its title in bold, a content tab (``===``) its title in bold and its text; their bodies lose the four
    spaces of indentation that Markdown would otherwise read as code.
    """
    out: list[str] = []
    # The open admonitions: the indentation of their body in the page, what their body's lines start with here, and
    # what closes them.
    stack: list[tuple[int, str, str]] = [(0, "", "")]
    for line in lines:
        indent = len(line) - len(line.lstrip())
        while len(stack) > 1 and line.strip() and indent < stack[-1][0]:
            out.append(stack.pop()[2])
        body, lead, _ = stack[-1]
        if not line.strip():
            out.append(lead.rstrip() + "\n")
            continue
        text = lead + line[min(indent, body) :]
        opener = ADMONITION.match(line[min(indent, body) :])
        if opener:
            title = opener["title"] or opener["type"].capitalize()
            pad = lead + opener["indent"]
            if opener["kind"].startswith("???"):
                out.append(f"{pad}<details><summary>{html.escape(title)}</summary>\n{pad.rstrip()}\n")
                stack.append((indent + 4, pad, f"{pad}</details>\n{pad.rstrip()}\n"))
            elif opener["kind"] == "===":
                out.append(f"{pad}**{title}**\n{pad.rstrip()}\n")
                stack.append((indent + 4, pad, ""))
            else:
                out.append(f"{pad}> **{title}**\n")
                stack.append((indent + 4, pad + "> ", f"{pad.rstrip()}\n"))
            continue
        if text.lstrip("> ").startswith("#"):
            text = HEADING_ATTRIBUTES.sub("", text.rstrip("\n")) + "\n"
        out.append(text)
    out.extend(close for _, _, close in reversed(stack[1:]))
    return _prose("".join(out), lang).strip("\n") + "\n"


def _prose(text: str, lang: str) -> str:
    """Math as ``$``/``$$`` (Jupyter, VS Code and Colab all read these), links to the site; code spans untouched."""
    prefix = "" if lang == "en" else f"{lang}/"
    text = AUTOREF.sub(r"\1", text)  # an API cross-reference ([`attention`][transformer.attention]) as its text
    parts = re.split(r"(```[\s\S]*?```|`[^`\n]+`)", text)
    for i in range(0, len(parts), 2):
        part = INLINE_MATH.sub(lambda m: f"${m[1].strip()}$", parts[i])
        part = re.sub(r"^(\s*)\\\[\s*$", r"\1$$", part, flags=re.MULTILINE)
        part = re.sub(r"^(\s*)\\\]\s*$", r"\1$$", part, flags=re.MULTILINE)
        part = MD_LINK.sub(lambda m: f"]({SITE_URL}{prefix}{_site_path(m[1])}{m[2] or ''})", part)
        parts[i] = part
    return "".join(parts)


def _site_path(relative: str) -> str:
    """``api/index`` -> ``api/``, ``attention`` -> ``attention/``: the directory URLs mkdocs builds."""
    relative = relative.removesuffix(".zh").removesuffix("index").removeprefix("./")
    return relative if not relative or relative.endswith("/") else relative + "/"


def _markdown_cell(source: str, **metadata: Any) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": "", "metadata": metadata, "source": source}


def _code_cell(source: str, output: str | None, **metadata: Any) -> dict[str, Any]:
    outputs = [{"output_type": "stream", "name": "stdout", "text": output}] if output else []
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "",
        "metadata": metadata,
        "outputs": outputs,
        "source": source.rstrip("\n"),
    }


def _figure_cell(fence: Fence, rendered: str | None, lang: str) -> dict[str, Any]:
    """What a build-time block printed on the page, or (outside a site build) the code that prints it."""
    if rendered is None:
        return _markdown_cell(f"{TEXT[lang]['drawn_by']}\n\n```python\n{fence.body.rstrip()}\n```\n")
    attachments = {}

    def attach(match: re.Match[str]) -> str:
        name = f"figure{len(attachments) + 1}.{match[1].split('/')[1].split('+')[0]}"
        attachments[name] = {match[1]: match[2]}
        return f'<img src="attachment:{name}" alt="{match[3] or ""}"'

    if "result=" in fence.info:  # the printed text shown as code (a function's source, say): the text itself
        code = re.search(r"<code>(.*?)</code>", rendered, re.DOTALL)
        text = html.unescape(re.sub(r"<[^>]+>", "", code[1] if code else rendered))
        language = re.search(r'result="(\w+)"', fence.info)[1]
        return _markdown_cell(f"```{language}\n{text.rstrip()}\n```\n")
    figure = FIGURE_IMG.search(rendered)
    if figure and rendered.lstrip().startswith("<figure"):
        # Markdown's own image syntax with an attachment: the form every notebook front end shows.
        attach(figure)
        alt = html.unescape(figure[3] or "").replace("[", "(").replace("]", ")")
        caption = re.search(r"<figcaption>(.*?)</figcaption>", rendered, re.DOTALL)
        source = f"![{alt}](attachment:{next(iter(attachments))})\n"
        if caption:
            source += f"\n*{re.sub(r'<[^>]+>', '', caption[1]).strip()}*\n"
        cell = _markdown_cell(source)
    else:
        cell = _markdown_cell(FIGURE_IMG.sub(attach, rendered.strip()) + "\n")
    if attachments:
        cell["attachments"] = attachments
    return cell


def export(page: str, lang: str, rendered: Callable[[Fence], str | None] = lambda fence: None) -> Notebook:
    """The notebook of a chapter page.

    Args:
        page: The page's name, e.g. ``"attention"``.
        lang: ``"en"`` or ``"zh"``.
        rendered: What a build-time block printed when the site was built (its HTML), or ``None`` outside a build.

    Returns:
        The notebook's cells, and for each chain of tested blocks its code cells and the output the page shows.

    Raises:
        ValueError: If ``page`` or ``lang`` is not a chapter or language of the book, or if the cells differ from the
            blocks pytest-codeblocks reads from the page (a marker this exporter does not understand).
    """
    if page not in CHAPTERS:
        raise ValueError(f"page: expected one of the chapters {', '.join(CHAPTERS)}, got {page!r}")
    if lang not in LANGUAGES:
        raise ValueError(f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
    path = page_path(page, lang)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    title = HEADING_ATTRIBUTES.sub("", lines[0].lstrip("# ").strip())
    cells = [
        _markdown_cell(_markdown_source(lines[:1], lang)),
        _markdown_cell(TEXT[lang]["intro"].format(title=title, url=page_url(page, lang)) + "\n"),
        _code_cell(
            f"import os\n\n{TEXT[lang]['arithmetic']}\nos.environ.update({PINNED!r})\nimport torch\n\n"
            "torch.set_num_threads(1)\n",
            None,
            book={"setup": True},
        ),
    ]
    chains: list[tuple[list[int], str | None]] = []
    prose: list[str] = []
    # Admonitions that hold tested code, open around the current line: the indentation of their body, whether they
    # fold (an exercise's solution, ``???``) and their title. Their prose is cut into cells between the code cells.
    containers: list[tuple[int, bool, str]] = []
    titled = False  # whether the innermost of them has shown its title yet
    last_tested = False  # whether the last fence was a tested block (an expected output belongs to it)

    def flush() -> None:
        nonlocal titled
        source = _markdown_source(_outdented(prose), lang)
        prose.clear()
        if containers:
            _, folds, title = containers[-1]
            if folds and source.strip():  # the solution's text stays hidden until the reader opens it
                source = f"<details><summary>{html.escape(title)}</summary>\n\n{source}\n</details>\n"
            elif not titled:
                source = f"**{title}**\n\n{source}"
            titled = True
        if source.strip():
            cells.append(_markdown_cell(source))

    for part in _split(lines, 1):
        if isinstance(part, tuple):
            number, line = part
            indent = len(line) - len(line.lstrip())
            while containers and line.strip() and indent < containers[-1][0]:
                flush()
                containers.pop()
            depth = containers[-1][0] if containers else 0
            opener = ADMONITION.match(line)
            if opener and _holds_tested_code(lines, number):
                flush()
                title = opener["title"] or opener["type"].capitalize()
                containers.append((indent + 4, opener["kind"].startswith("???"), title))
                titled = False
                continue
            prose.append(line[min(indent, depth) :] if line.strip() else line)
            continue
        fence, depth = part, containers[-1][0] if containers else 0
        if any(m.startswith("pytest-codeblocks:expected-output") for m in fence.markers) and last_tested:
            indices, _ = chains[-1]
            last = cells[indices[-1]]
            cells[indices[-1]] = _code_cell(last["source"], fence.body, **last["metadata"])
            chains[-1] = (indices, fence.body)
            last_tested = False
            continue
        last_tested = _tested(fence)
        if "exec=" in fence.info:
            flush()
            cells.append(_figure_cell(fence, rendered(fence), lang))
        elif not last_tested:
            prose.extend(" " * max(fence.indent - depth, 0) + row for row in _fenced(fence))
        else:
            flush()
            metadata: dict[str, Any] = {"book": {"line": fence.line}}
            if containers and containers[-1][1]:
                metadata["jupyter"] = {"source_hidden": True}  # a solution: folded until the reader opens it
            cells.append(_code_cell(fence.body, None, **metadata))
            if "pytest-codeblocks:cont" in fence.markers and chains:
                chains[-1][0].append(len(cells) - 1)
            else:
                chains.append(([len(cells) - 1], None))
    flush()
    for number, cell in enumerate(cells):
        cell["id"] = f"{page}-{lang}-{number}"
    notebook = Notebook(cells, chains)
    _check_against_parser(notebook, path)
    return notebook


def _outdented(lines: list[str]) -> list[str]:
    """A cell's lines with its indented start (the rest of a list item cut by a code cell) moved to the left edge.

    Four spaces at the start of a Markdown cell would make it a code block.
    """
    top = next((i for i, line in enumerate(lines) if line.strip() and not line[0].isspace()), len(lines))
    indents = [len(line) - len(line.lstrip()) for line in lines[:top] if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] if line.strip() else line for line in lines[:top]] + lines[top:]


def _fenced(fence: Fence) -> list[str]:
    """A fence that is shown, not run (``text``, ``console``), as Markdown lines."""
    info = fence.info.split()[0] if fence.info else ""
    return [f"```{info}\n", *fence.body.splitlines(keepends=True), "```\n"]


def _holds_tested_code(lines: list[str], start: int) -> bool:
    """Whether the admonition that opens on line ``start`` (0-based) holds a tested code block."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    for line in lines[start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            return False
        if line.strip() == "```python":
            return True
    return False


def _normalised(code: str) -> str:
    return re.sub(r"\n\s*\n", "\n", code).strip()


def _check_against_parser(notebook: Notebook, path: Path) -> None:
    """The chains hold exactly the code and expected outputs pytest-codeblocks runs (its own parser reads the page)."""
    tested = [b for b in extract_from_file(path) if b.syntax == "python" and not any("skip" in m for m in b.marks)]
    ours = [
        (_normalised("\n".join(notebook.cells[i]["source"] for i in indices)), expected)
        for indices, expected in notebook.chains
    ]
    theirs = [(_normalised(block.code), block.expected_output) for block in tested]
    if ours != theirs:
        same = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs))
        )
        where = f"the block at line {tested[same].lineno}" if same < len(tested) else "the end of the page"
        raise ValueError(
            f"{path.relative_to(ROOT)}: expected the notebook's chains of code cells to be the {len(theirs)} blocks "
            f"pytest-codeblocks runs, got {len(ours)} chains, which part from them at {where}"
        )


def write(page: str, lang: str, folder: Path, rendered: Callable[[Fence], str | None] = lambda fence: None) -> Path:
    """Write a chapter's notebook into ``folder``, atomically (a reader never downloads half a file)."""
    path = folder / notebook_name(page, lang)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{id(path)}.tmp")
    data = export(page, lang, rendered).as_json(lang)
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


# The mkdocs hook. The i18n plugin builds each language in turn on the same configuration; the notebooks of both go
# to the root's notebooks/ folder, where the English and Chinese names differ.

_printed: dict[str, str] = {}  # a build-time block's source -> the HTML it printed, in this build


def _recording(format_block: Callable[..., str]) -> Callable[..., str]:
    # functools.wraps copies the wrapped formatter's attributes, so book/exec_cache.py, whose on_config runs first,
    # sees its own cache under this wrapper in the next language's build and does not wrap it again.
    @functools.wraps(format_block)
    def format_and_record(source: str, language: str, css_class: str, options: dict[str, Any], md: Any, **kw: Any):
        printed = format_block(source, language, css_class, options, md, **kw)
        _printed[source.strip()] = printed
        return printed

    format_and_record.__recorded_for_notebooks__ = True
    return format_and_record


def on_config(config: Any) -> Any:
    """Record what each build-time block prints (figures), so that the notebooks embed the same figures."""
    for fence in config["mdx_configs"]["pymdownx.superfences"]["custom_fences"]:
        if fence["name"] == "python" and not getattr(fence["format"], "__recorded_for_notebooks__", False):
            fence["format"] = _recording(fence["format"])
    return config


def _chapter(page: Any) -> tuple[str, str] | None:
    name = Path(page.file.src_uri).name.removesuffix(".md")
    stem, _, lang = name.partition(".")
    return (stem, lang or "en") if stem in CHAPTERS and (lang or "en") in LANGUAGES else None


def on_page_content(content: str, page: Any, config: Any, files: Any) -> str:
    """Write the chapter's notebook into the site and link to it under the page's title."""
    chapter = _chapter(page)
    if chapter is None:
        return content
    page_name, lang = chapter
    write(page_name, lang, Path(config.site_dir) / "notebooks", lambda fence: _printed.get(fence.body.strip()))
    # Up from the page's folder to the site's root: "attention/" and "zh/attention/" (or "zh/attention.html").
    href = "../" * page.url.count("/") + f"notebooks/{notebook_name(page_name, lang)}"
    link = f'<p class="book-notebook"><a class="md-button" href="{href}" download>{TEXT[lang]["download"]}</a></p>'
    return re.sub(r"(</h1>)", lambda m: m[1] + link, content, count=1)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the notebooks of the chapters named (all by default) in both languages."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("pages", nargs="*", metavar="PAGE", help=f"a chapter: {', '.join(CHAPTERS)}")
    parser.add_argument("--out", type=Path, default=Path("notebooks"), help="the folder to write into (./notebooks)")
    args = parser.parse_args(argv)
    unknown = [page for page in args.pages if page not in CHAPTERS]
    if unknown:
        parser.error(f"PAGE: expected chapters among {', '.join(CHAPTERS)}, got {', '.join(unknown)}")
    for page in args.pages or CHAPTERS:
        for lang in LANGUAGES:
            print(write(page, lang, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
