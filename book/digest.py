"""What a cached result depends on: the modules of this repository that its code imports, followed to the end.

A figure, a trained model or a training log is reused from the cache only while the code that made it is unchanged.
Hashing the whole package would retrain every model after an edit of the command line; hashing the code that is
actually imported retrains only what the edit can change. The imports are read from the source (``ast``), not run:

- ``from transformer.tasks import CopyTask`` depends on ``transformer/tasks.py`` and on what that imports, in turn;
- a package's ``__init__.py`` counts only when the code imports the package itself (``import transformer``,
  ``from book.figures import figure_html``): importing a submodule runs it, but what it re-exports is not executed by
  the submodule's code.

Only the repository's own packages are followed; torch's and matplotlib's versions are the callers' to add.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("transformer", "book")


def _module_file(name: str) -> Path | None:
    """The file of module ``name`` (``a.b`` → ``a/b.py`` or ``a/b/__init__.py``), or ``None`` if it is not ours."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


# A build asks for the digest of a hundred figure blocks, which import the same modules: parsing each module once per
# text, not once per block, took the digests of a build from 10.6 s to a fraction of a second. Keyed by the text, so an
# edit (mkdocs serve) is parsed again.
@functools.lru_cache(maxsize=512)
def _imported(source: str, module: str = "") -> frozenset[str]:
    """The names of the modules that ``source`` (the text of module ``module``, if any) imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                package = module.rsplit(".", node.level)[0]
                base = f"{package}.{base}" if base else package
            # ``from a import b``: b is a submodule (its file exists) or a name defined by a's ``__init__.py``.
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found = {name for name in submodules if _module_file(name) is not None}
            names.update(found)
            if found != submodules:
                names.add(base)
    return frozenset(names)


def modules_used(source: str) -> list[Path]:
    """The files of this repository's modules that ``source`` imports, directly or through other modules, sorted."""
    seen: dict[str, Path] = {}
    todo = sorted(_imported(source))
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None or name in seen:
            continue
        seen[name] = path
        # a package's own name is its __init__, whose relative imports resolve against the package itself
        module = f"{name}.__init__" if path.name == "__init__.py" else name
        todo.extend(_imported(path.read_text(encoding="utf-8"), module))
    return sorted(seen.values())


def code_digest(source: str) -> str:
    """A hash of the text of every module of this repository that ``source`` uses (see ``modules_used``).

    Args:
        source: Python code, e.g. a figure block of a page or ``"from transformer.tasks import CopyTask"``.

    Returns:
        64 hexadecimal digits; equal for two sources that use the same modules with the same text.
    """
    digest = hashlib.sha256()
    for path in modules_used(source):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
