"""mkdocs hook: one search index per language, Chinese words kept whole, previews without TeX.

material's search plugin writes one ``search/search_index.json`` for both languages (the i18n plugin merges them),
and every page loads it. After the last build this hook splits it: English entries stay in ``search/``, Chinese
ones go to ``zh/search/``, and ``assets/search-index.js`` makes each page fetch its own language's index when the
reader opens the search. While splitting it rewrites the text that results show:

- formulas: ``\\(\\sqrt{d_k}\\)`` becomes ``√d_k`` (a preview is plain text: KaTeX does not run there);
- zero-width spaces: jieba's segmentation surrounds each Chinese word with U+200B, a line-break opportunity, so a
  preview line could start with "，"; the ones next to punctuation or spaces go (both split words anyway).

Before each build it loads the glossary's Chinese terms into jieba, so that 编码器, 位置编码 and 词嵌入 are indexed
as one word each, the way a reader types them, instead of 编码/器, 位置/编码, 词/嵌入.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.zh.md"
USER_DICT = ROOT / ".cache" / "jieba" / "glossary.txt"
HAN = re.compile(r"^[\u4e00-\u9fff]+$")

# TeX commands shown as a character (Greek letters by name, operators as the symbol a reader would write).
SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
    "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω",
    "Sigma": "Σ", "sum": "Σ", "prod": "Π", "partial": "∂", "nabla": "∇", "cdot": "·", "times": "×", "odot": "⊙",
    "pm": "±", "infty": "∞", "approx": "≈", "in": "∈", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠",
    "neq": "≠", "to": "→", "rightarrow": "→", "leftarrow": "←", "mapsto": "↦", "top": "ᵀ", "dots": "…",
    "ldots": "…", "cdots": "⋯", "mid": "|", "{": "{", "}": "}", "_": "_", "%": "%", "&": "&", "\\": "; ",
}  # fmt: skip
SPACES = {",", ";", ":", " ", "quad", "qquad"}
DROPPED = {"!", "left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "displaystyle", "nonumber"}
ONE_ARGUMENT = {"text", "mathrm", "mathbf", "mathit", "mathsf", "texttt", "boldsymbol", "operatorname", "underbrace"}
TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}^_&]|[^\\{}^_&]")


def tex_to_text(tex: str) -> str:
    """A formula as a reader would type it in plain text: ``\\sqrt{d_k}`` -> ``√d_k``, ``\\frac{a}{b}`` -> ``a/b``.

    Args:
        tex: The TeX source, without its ``\\( \\)`` delimiters.

    Returns:
        The plain form, on one line.
    """
    tokens = TOKEN.findall(tex.replace("&amp;", "&"))
    position = 0

    def argument() -> str:
        """The next group ``{...}`` or single token, as text."""
        nonlocal position
        while position < len(tokens) and tokens[position].isspace():
            position += 1
        if position == len(tokens):
            return ""
        token = tokens[position]
        position += 1
        return group() if token == "{" else convert(token)

    def wrapped(text: str) -> str:
        """``d_k`` stays as it is under a root or a fraction bar; ``d_k + 1`` needs parentheses."""
        return text if re.fullmatch(r"[\w.√ᵀ]*", text) else f"({text})"

    def convert(token: str) -> str:
        name = token[1:]
        if token == "{":
            return group()
        if token == "&":
            return " "
        if token in "^_":
            text = argument()
            if token == "_":
                return "_" + text
            return text if text == "ᵀ" else "^" + wrapped(text)
        if not token.startswith("\\"):
            return token
        if name in SYMBOLS:
            return SYMBOLS[name]
        if name in SPACES:
            return " "
        if name in DROPPED:
            return ""
        if name in ("begin", "end"):
            argument()  # the environment's name
            return " "
        if name == "sqrt":
            return "√" + wrapped(argument())
        if name == "frac":
            numerator, denominator = argument(), argument()
            return f"{wrapped(numerator)}/{wrapped(denominator)}"
        if name == "hat":
            return argument() + "\u0302"
        if name == "mathbb":
            text = argument()
            return {"R": "ℝ", "N": "ℕ", "Z": "ℤ"}.get(text, text)
        if name in ONE_ARGUMENT:
            return argument()
        return name  # \sin, \log, \max, \tanh, \exp: the function's name

    def group() -> str:
        nonlocal position
        parts = []
        while position < len(tokens) and tokens[position] != "}":
            position += 1
            parts.append(convert(tokens[position - 1]))
        position += 1  # the closing brace
        return "".join(parts)

    text = ""
    while position < len(tokens):
        position += 1
        text += convert(tokens[position - 1])
    return re.sub(r"\s+", " ", text).strip()


MATH = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]|\$\$(.+?)\$\$", re.DOTALL)


def preview_text(text: str, separator: re.Pattern[str]) -> str:
    """An index entry's title or text as the results show it: formulas in plain form, no stray zero-width space.

    Args:
        text: The entry's ``title`` or ``text`` (HTML, as material indexes it).
        separator: The search's word separator: a zero-width space next to one of its characters splits nothing.

    Returns:
        The same text, readable.
    """
    text = MATH.sub(lambda match: tex_to_text(next(group for group in match.groups() if group is not None)), text)
    chars = list(text)
    kept = []
    for i, char in enumerate(chars):
        if char == "\u200b":
            before = chars[i - 1] if i else " "
            after = chars[i + 1] if i + 1 < len(chars) else " "
            if (before != "\u200b" and separator.fullmatch(before)) or separator.fullmatch(after):
                continue
        kept.append(char)
    return "".join(kept)


def glossary_terms(glossary: Path = GLOSSARY) -> list[str]:
    """The Chinese terms of the glossary's tables (first column; ``源序列 / 目标序列`` gives both)."""
    terms = []
    for line in glossary.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and cells[1] != "English":  # not the header row
            terms += [term.strip() for term in cells[0].split("/") if HAN.match(term.strip())]
    return terms


@event_priority(100)  # before the search plugin loads jieba's user dictionary in its own on_config
def on_config(config: Any) -> Any:
    """Give jieba the glossary's terms, each as one word, with a frequency high enough to win over its splits."""
    USER_DICT.parent.mkdir(parents=True, exist_ok=True)
    words = "".join(f"{term} 100000 n\n" for term in glossary_terms())
    if not USER_DICT.is_file() or USER_DICT.read_text(encoding="utf-8") != words:
        USER_DICT.write_text(words, encoding="utf-8")
    config.plugins["material/search"].config.jieba_dict_user = str(USER_DICT)
    return config


@event_priority(-200)  # after the i18n plugin's on_post_build, which builds the other languages and merges the index
def on_post_build(config: Any) -> None:
    """Split the merged index into one per language, with readable previews."""
    i18n = config.plugins["i18n"]
    if i18n.building:  # a language built from inside the i18n plugin's on_post_build: the index is not final yet
        return
    site = Path(config.site_dir)
    merged = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = re.compile(merged["config"]["separator"])
    for doc in merged["docs"]:
        doc["title"] = preview_text(doc["title"], separator)
        doc["text"] = preview_text(doc["text"], separator)
    for language in i18n.config.languages:
        lang = language.locale
        folder = "" if lang == i18n.default_language else f"{lang}/"
        others = [f"{other.locale}/" for other in i18n.config.languages if other.locale != i18n.default_language]
        if folder:
            docs = [doc for doc in merged["docs"] if doc["location"].startswith(folder)]
        else:
            docs = [doc for doc in merged["docs"] if not doc["location"].startswith(tuple(others))]
        # English pages need no Chinese tokenizer: the English index loads lunr's English pipeline only.
        languages = ["en"] if lang == "en" else merged["config"]["lang"]
        index = {"config": {**merged["config"], "lang": languages}, "docs": docs}
        path = site / folder / "search" / "search_index.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
