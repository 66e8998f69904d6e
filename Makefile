# The two commands of the README: `make serve` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch's CPU wheel first: with it installed, `torch>=2.2` in pyproject.toml is satisfied and pip pulls no CUDA build.
# PyTorch's CPU index offers 2.13.0+cpu beside PyPI's 2.13.0 (a CUDA build on Linux); pip takes the +cpu, the higher
# version. --no-deps: torch's own dependencies come from PyPI with the package, in the next step; asked of both
# indexes, each would cost a wait where PyTorch's cannot be reached (pip retries it, then goes on with PyPI).
TORCH := torch==2.13.0 --no-deps --extra-index-url https://download.pytorch.org/whl/cpu
STAMP := $(VENV)/.installed

.PHONY: setup system serve test lint build pdf offline clean

# What pip cannot install: Debian's chromium and a CJK font (apt), iframe-worker (npm). Checked on every run,
# installed only when missing; the script needs root or sudo the first time.
system:
	scripts/setup-system.sh

$(STAMP): pyproject.toml constraints.txt | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH) -c constraints.txt
	$(BIN)/pip install --quiet -e ".[docs,test,notebooks]" -c constraints.txt
	touch $@

setup: system $(STAMP)

# --dirty: after the first full build, an edit rebuilds only the pages it touched (about a second, not twenty).
serve: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dirty -a 127.0.0.1:8000

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

build: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# One PDF per language, site/pdf/transformer-book.{en,zh}.pdf, printed by headless Chromium (book/pdf.py; a few
# minutes). `make build` empties site/: run `make pdf` after it; the home page links the PDFs there.
pdf: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m book.pdf --out site/pdf

# The site as a zip that works opened from the file system, search included (book/offline.py):
# dist/transformer-book-offline.zip; with the PDFs of `make pdf` inside when site/pdf holds them.
offline: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m book.offline --out dist/transformer-book-offline.zip --pdfs site/pdf

# pytest runs the package tests, every code block of the book and the README (pytest-codeblocks), the parity test,
# the strict site build, the link check and the browser test (configuration in pyproject.toml). pytest-xdist runs them
# on one worker per core, each test file on one worker (its module fixtures, trained models, are made once).
test: setup lint
	$(BIN)/pytest -n auto --dist loadfile

clean:
	rm -rf $(VENV) site dist .cache test-artifacts docs/assets/vendor
