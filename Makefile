# The two commands of the README: `make serve` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch's CPU wheel first: with it installed, `torch>=2.2` in pyproject.toml is satisfied and pip pulls no CUDA build.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup serve test lint build clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH) -c constraints.txt
	$(BIN)/pip install --quiet -e ".[docs,test]" -c constraints.txt
	touch $@

setup: $(STAMP)

serve: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8000

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) site .cache
