# okx-journal: `make demo` and `make test` work on a fresh clone; both create .venv.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3 python3.12 python3.11 python3.13; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# Test processes (pytest-xdist): whole files per process, so module fixtures are built once.
TEST_WORKERS ?= 2
# Every install (build backends included) takes the exact versions in constraints.txt.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

.PHONY: demo test lint install install-test bench clean help constraints

help:
	@echo "make demo   sync a simulated OKX account into demo.duckdb and print P&L per instrument type"
	@echo "make test   install test dependencies, lint, type-check and run the test suite"
	@echo "make bench  run the benchmarks in bench/ (minutes; figures go to bench/RESULTS.md by hand)"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "okx-journal needs Python 3.11 or newer on PATH (python3, python3.11, ...): install it, or run make PYTHON=/path/to/python3.11"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "okx-journal needs Python 3.11 or newer: install it, or run make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/okx-journal demo

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy sources pipelines okx_journal

test: install-test lint
	@bash scripts/install-chromium.sh || echo "Chromium could not be installed: the browser test of the report will be skipped"
	@bash scripts/install-postgresql.sh || echo "PostgreSQL could not be installed: the PostgreSQL tests will fail and say why"
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

bench: install-test
	$(BIN)/python bench/bench_sync.py
	$(BIN)/python bench/bench_transforms.py
	@bash scripts/install-postgresql.sh
	$(BIN)/python bench/bench_transforms.py --fills 200000 --destination postgres

constraints: install-test
	{ sed -n '1,2p' constraints.txt; $(BIN)/python -m pip freeze --all --exclude-editable | grep -iE '^(pip|setuptools|wheel)=='; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^#'; } > constraints.tmp && mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) *.egg-info demo.duckdb demo-report.html
