"""The site as a zip that works opened from the file system: ``python -m book.offline`` (``make offline``).

Built from a configuration that inherits ``mkdocs.yml`` (``book.pdf.inherited_config``) and adds material's
``offline`` plugin, which makes every link name its file (``attention.html``, not ``attention/``) and writes the
search index as a script. What a page cannot do from ``file://`` in Chromium, and how this copy does without it:

- ``fetch()`` and ``XMLHttpRequest`` of a local file fail, so the search index is loaded as a script that sets a
  variable (``search/search_index.js``). The plugin writes one for the index material builds, but the site splits
  it per language (``book/search_index.py``) after the plugin has run: this module, a hook of the offline build
  only, writes a script beside each language's index, and ``assets/search-index.js`` points the page at its own.
- A web worker cannot start from a local file: material then runs its search worker in an iframe, through
  the iframe-worker shim. The plugin would load the shim from unpkg.com; this build names the copy that
  ``scripts/setup-system.sh`` installs from npm (``docs/assets/vendor/iframe-worker/``), so nothing comes from the
  network.
- Figures stay inside the pages (the ``figure_files`` hook, which moves them to files loaded on scroll, is left
  out): opening one full size reads its SVG, which a ``data:`` address allows and a local file would not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

from book.pdf import LANGUAGES, ROOT, inherited_config, mkdocs_build, parent_config, pdf_name

SHIM = "assets/vendor/iframe-worker/shim.js"
# Inside the zip, the site sits in one folder, so that unzipping it makes no mess.
FOLDER = "transformer-book"
DEFAULT_ZIP = ROOT / "dist" / "transformer-book-offline.zip"


@event_priority(-300)  # after book/search_index.py (-200) has split the index per language
def on_post_build(config: Any) -> None:
    """Beside each language's ``search/search_index.json``, the same index as a script, for pages read from disk."""
    if config.plugins["i18n"].building:  # a language built inside the i18n plugin: the index is not final yet
        return
    for index in Path(config.site_dir).glob("**/search/search_index.json"):
        data = json.loads(index.read_text(encoding="utf-8"))
        script = f"var __index = {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}"
        index.with_suffix(".js").write_text(script, encoding="utf-8")


def build_offline_site(site: Path, work: Path) -> Path:
    """Build the offline site into a folder.

    Args:
        site: The folder to build into.
        work: A folder for the generated configuration.

    Returns:
        The English home page, ``index.html`` under ``site``.

    Raises:
        FileNotFoundError: If the iframe-worker shim is missing (``scripts/setup-system.sh`` installs it).
    """
    if not (ROOT / "docs" / SHIM).is_file():
        raise FileNotFoundError(f"docs/{SHIM} is missing: run scripts/setup-system.sh (make system), which installs it")
    extra = {**parent_config().get("extra", {}), "polyfills": [SHIM]}
    config = inherited_config(
        work,
        "mkdocs-offline",
        plugins=("offline",),
        hooks=(Path(__file__),),
        drop={"hooks": ("figure_files.py",)},
        extra={"extra": extra},
    )
    mkdocs_build(config, site)
    return site / "index.html"


def zip_site(site: Path, archive: Path) -> Path:
    """Zip a built site into ``archive``, every file under one folder, ``transformer-book/``.

    Args:
        site: The built site.
        archive: The zip file to write (its folder is created if missing).

    Returns:
        ``archive``.
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(site.rglob("*")):
            if path.is_file():
                zipped.write(path, f"{FOLDER}/{path.relative_to(site).as_posix()}")
    partial.replace(archive)  # a zip that is there is a whole one
    return archive


def build_offline(archive: Path = DEFAULT_ZIP, pdfs: Path | None = None) -> Path:
    """Build the offline site and zip it.

    Args:
        archive: The zip file to write.
        pdfs: A folder holding the PDFs of ``book.pdf`` (``site/pdf``), copied into the copy's ``pdf/`` where the
            home page links them; ``None``, or a folder without them, leaves them out.

    Returns:
        ``archive``.
    """
    with tempfile.TemporaryDirectory(prefix="transformer-book-offline-") as temporary:
        work = Path(temporary)
        build_offline_site(work / "site", work)
        for lang in LANGUAGES:
            pdf = pdfs / pdf_name(lang) if pdfs else None
            if pdf and pdf.is_file():
                (work / "site" / "pdf").mkdir(exist_ok=True)
                shutil.copy2(pdf, work / "site" / "pdf" / pdf.name)
        return zip_site(work / "site", archive)


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m book.offline [--out ZIP] [--pdfs DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m book.offline", description="Zip the site for reading offline.")
    parser.add_argument("--out", type=Path, default=DEFAULT_ZIP, help="the zip (dist/transformer-book-offline.zip)")
    parser.add_argument("--pdfs", type=Path, help="a folder with the PDFs of python -m book.pdf, to include")
    args = parser.parse_args(argv)
    archive = build_offline(args.out, args.pdfs)
    print(f"{archive}: {archive.stat().st_size / 1e6:.1f} MB; unzip it and open {FOLDER}/index.html")


if __name__ == "__main__":
    main()
