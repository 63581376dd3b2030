# cookiecutter-dbt-aws: bake the template, test it, measure it.
# Every target creates what it needs; `make test` is what CI runs.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null)
BUILD := build
PYTEST_ARGS ?=

.PHONY: help venv demo test test-fast bench lint clean

help:
	@echo "make demo    bake the template with its defaults into $(BUILD)/ and run the local pipeline"
	@echo "make test    the whole test suite (needs the tools .ci/run installs)"
	@echo "make bench   benchmarks (QUICK=1 for a reduced run)"
	@echo "make lint    ruff over hooks, tests and bench"

$(BIN)/python:
	@if [ -n "$(UV)" ]; then uv venv --quiet --python $(PYTHON) $(VENV); else $(PYTHON) -m venv $(VENV); fi

$(VENV)/.installed: requirements-dev.txt | $(BIN)/python
	@if [ -n "$(UV)" ]; then VIRTUAL_ENV=$(VENV) uv pip install --quiet -r requirements-dev.txt; \
	else $(BIN)/pip install --quiet -r requirements-dev.txt; fi
	@touch $@

venv: $(VENV)/.installed

demo: venv
	rm -rf $(BUILD)/analytics-dbt
	$(BIN)/cookiecutter --no-input --output-dir $(BUILD) .
	$(MAKE) -C $(BUILD)/analytics-dbt run PYTHON=$(abspath $(BIN)/python)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check hooks tests
	$(BIN)/ruff format --check hooks tests

clean:
	rm -rf $(BUILD) .pytest_cache
