# The two commands of the set-up promise: `make demo` and `make test`.
# Both work on a fresh machine with only python3: they create .venv and install Paceline.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint check-types check-layers unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/paceline demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

check-types: $(STAMP)
	$(BIN)/mypy

check-layers: $(STAMP)
	$(BIN)/lint-imports

# Static checks, then the whole suite with PostgreSQL and Chromium started for it.
test: lint check-types check-layers
	scripts/test-services.sh $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# The suite without the services (no PostgreSQL or browser tests).
unit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -m "not postgres and not browser" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .paceline build dist
