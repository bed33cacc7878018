# The two set-up commands of the README: `make demo` and `make test`.
# Each creates the virtual environment .venv in the checkout if there is none.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.hese-installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/hese build systems/demo.yaml --out results/demo/build

lint: $(STAMP)
	$(BIN)/ruff check hese tests benchmarks

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf results .pytest_cache
