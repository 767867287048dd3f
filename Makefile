# The two quick-start commands are `make run` and `make test`; everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e lint format typecheck services demo bench migrate check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m app

test: $(STAMP) services
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP) services
	$(BIN)/python -m pytest -q tests/integration

test-e2e: $(STAMP) services
	$(BIN)/python -m pytest -q tests/e2e

services:
	scripts/ensure-services

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP) services
	$(BIN)/python -m app demo

bench: $(STAMP) services
	$(BIN)/python -m bench

migrate: $(STAMP)
	$(BIN)/python -m app migrate

check: $(STAMP)
	$(BIN)/python -m app check

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
