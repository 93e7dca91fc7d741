# Knowcast: `make demo` runs it, `make test` tests it. Both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint types jscheck web install serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

web: node_modules/.package-lock.json
	npm run build --silent

demo: install web
	$(BIN)/knowcast demo

serve: install web
	$(BIN)/knowcast serve

test: install web jscheck
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# browser code: ESLint, tsc --checkJs (JSDoc types) and the node --test unit tests in tests/js
jscheck: node_modules/.package-lock.json
	bash scripts/jscheck

lint: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

types: install
	$(BIN)/mypy

check: lint types test

clean:
	rm -rf $(VENV) node_modules src/knowcast/web/static/dist
