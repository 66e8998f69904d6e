#!/usr/bin/env bash
# The README's pip-only path ("Without make, apt or npm"), as a reader on Windows, macOS or Linux takes it, checked
# in CI: a fresh venv made by `python -m venv` in a temporary folder, the CPU build of torch first, then
# `pip install -e ".[docs,test,notebooks]"`; no make, no apt, no npm. It runs the package's tests and doctests, the
# notebooks, the strict site build and the tests of the built site (KaTeX included: pip installs it with the docs
# extra), but not the browser test (it needs Chromium, which pip cannot install).
#
# The copy holds what a fresh clone holds (tracked and new files, nothing git ignores: no .venv, no npm files), plus the
# figure cache in .cache/ when there is one: the figures are keyed by their code and the package, so reusing them
# changes no output and saves the minutes of drawing them again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

mkdir "$work/book"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$work/book"
for cache in .cache/exec .cache/transformer-book; do
    if [[ -d $cache ]]; then
        mkdir -p "$work/book/.cache" && cp -r "$cache" "$work/book/.cache/"
    fi
done

"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# The CPU wheel first, as the README installs it: with it installed, `torch>=2.2` is satisfied and pip pulls no CUDA
# build; its dependencies come with the package, next. (This machine cannot reach PyTorch's index: pip retries, then
# takes the CPU wheel on its disk.)
"${pip[@]}" torch==2.13.0 --no-deps --extra-index-url https://download.pytorch.org/whl/cpu -c "$work/book/constraints.txt"
# The package alone first, as a user of `transformer` installs it: every module must import without the book's
# extras (matplotlib, mkdocs, jupyter), which are not installed yet.
"${pip[@]}" -e "$work/book" -c "$work/book/constraints.txt"
(cd "$work" && "$work/venv/bin/python" -c '
import importlib, pkgutil, transformer
names = [m.name for m in pkgutil.walk_packages(transformer.__path__, "transformer.") if m.name != "transformer.__main__"]
for name in names:
    importlib.import_module(name)
print(f"pip-only: the {len(names)} modules of transformer import without the book'"'"'s extras")
')
"${pip[@]}" -e "$work/book[docs,test,notebooks]" -c "$work/book/constraints.txt"
echo "pip-only: a fresh venv with torch and the package's extras in $((SECONDS - start)) s"

cd "$work/book"
NO_MKDOCS_2_WARNING=1 "$work/venv/bin/python" -m pytest tests transformer -q -p no:randomly -n auto --dist loadfile \
    -m "not browser and not pdf and not offline"
