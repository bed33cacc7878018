# The two set-up commands of the README: `make demo` and `make test`.
# Each creates the virtual environment .venv in the checkout if there is none.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.hese-installed

.PHONY: demo test lint docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The whole workflow on the built-in demo (config/demo.yaml), then its HTML report. --nolock: the
# demo is one user's in one checkout, so a demo killed with kill -9 simply continues when rerun
# (Snakemake's lock would otherwise wait for `snakemake --unlock`); hese simulate holds its own lock.
demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --configfile config/demo.yaml --cores 2 --rerun-incomplete --nolock
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --configfile config/demo.yaml --report results/demo/report.html
	@echo "demo finished: tables in results/demo/tables, plots in results/demo/plots, report results/demo/report.html"

lint: $(STAMP)
	$(BIN)/ruff check hese tests benchmarks docs validation
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --lint --configfile config/demo.yaml

# The documentation site (docs/) into docs/_build/html; warnings are errors. The tutorial notebook
# is executed when results/demo exists (after `make demo`).
docs: $(STAMP)
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html
	@echo "documentation: docs/_build/html/index.html"

test: lint docs
	$(BIN)/python -m pytest

clean:
	rm -rf results logs .snakemake .pytest_cache docs/_build docs/reference/generated
