"""mkdocs hook: KaTeX's files in the site, from a package pip installs, so formulas render with no network and no npm.

The pages' formulas are typeset in the browser by KaTeX (``docs/assets/katex-init.js``), served by the site itself
at ``assets/vendor/katex/``: a page makes no request to another host. KaTeX is a JavaScript library, not on PyPI
itself; the ``docsforge`` wheel (Apache-2.0, in the ``docs`` extra) ships its ``dist/`` files unchanged, byte for
byte those of KaTeX's npm release (MIT, its licence shipped beside them). This hook adds them to the site as if they
lay in ``docs/assets/vendor/katex/``, with the same pip install on every system, so the pinned ``docsforge`` in
``constraints.txt`` is the one record of the KaTeX version. Only what the site loads goes in, with KaTeX's licence:
the script, its auto-render extension, the style sheet and its fonts in woff2 (every browser the site targets reads
woff2; the ``.woff`` and ``.ttf`` copies would only add weight). Nothing of ``docsforge`` is imported or run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

PACKAGE = "docsforge"
# Where the wheel keeps KaTeX's dist/ folder, relative to the package's folder.
DIST = Path("templates/assets/katex")
# Where the site serves it: mkdocs.yml's extra_css and extra_javascript name these files.
SITE_FOLDER = "assets/vendor/katex"


def katex_dist() -> Path:
    """The folder of KaTeX's dist files inside the installed ``docsforge`` package.

    Raises:
        PluginError: ``docsforge`` is not installed, or holds no KaTeX where this hook expects it.
    """
    spec = importlib.util.find_spec(PACKAGE)  # finds the folder without running the package's code
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            f"KaTeX: the package {PACKAGE!r}, which ships KaTeX's files, is not installed in this Python; expected "
            "the docs extra: pip install -e '.[docs]' -c constraints.txt"
        )
    dist = Path(next(iter(spec.submodule_search_locations))) / DIST
    if not (dist / "katex.min.js").is_file():
        raise PluginError(f"KaTeX: no katex.min.js in {dist}; expected {PACKAGE} at the version in constraints.txt")
    return dist


def katex_files() -> dict[str, Path]:
    """What the site serves of KaTeX: ``{path in the site: file in the package}``."""
    dist = katex_dist()
    names = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js", "LICENSE"]
    names += sorted(font.relative_to(dist).as_posix() for font in dist.glob("fonts/*.woff2"))
    return {f"{SITE_FOLDER}/{name}": dist / name for name in names}


def on_files(files: Files, config: Any) -> Files:
    """Serve the package's KaTeX at ``assets/vendor/katex/``, in place of anything in ``docs/`` there.

    A KaTeX left in ``docs/assets/vendor/katex/`` by an older set-up (npm) is set aside, so the site always has the
    one version ``constraints.txt`` pins.
    """
    for stale in [file for file in files if file.src_uri.startswith(f"{SITE_FOLDER}/")]:
        files.remove(stale)
    for src_uri, path in katex_files().items():
        files.append(File.generated(config, src_uri, abs_src_path=str(path)))
    return files
