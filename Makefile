# cookiecutter-dbt-aws: bake the template, test it, measure it.
# Every target creates what it needs; `make test` is what CI runs.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null)
BUILD := build
# Two workers, each module on one of them: the modules start their servers (moto, PostgreSQL,
# Terraform applies) once. The whole suite takes about 12 minutes on 2 cores.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: help venv venvs venv-airflow2 venv-airflow3 venv-checkov lock-airflow lock-checkov demo test test-fast bench lint clean

help:
	@echo "make demo    bake the template with its defaults into $(BUILD)/ and run the local pipeline"
	@echo "make test    the whole test suite (needs the tools .ci/run installs)"
	@echo "make test-fast  hooks, bakes and README examples: about 20 seconds, for every edit"
	@echo "make bench   benchmarks (QUICK=1 for a reduced run)"
	@echo "make lint    ruff over hooks, tests and bench"

$(BIN)/python:
	@if [ -n "$(UV)" ]; then uv venv --quiet --python $(PYTHON) $(VENV); else $(PYTHON) -m venv $(VENV); fi

$(VENV)/.installed: requirements-dev.txt | $(BIN)/python
	@if [ -n "$(UV)" ]; then VIRTUAL_ENV=$(VENV) uv pip install --quiet -r requirements-dev.txt; \
	else $(BIN)/pip install --quiet -r requirements-dev.txt; fi
	@touch $@

venv: $(VENV)/.installed

# Tools whose dependency trees clash with the dev venv get a venv each under .venvs/.
venvs: venv-airflow2 venv-airflow3 venv-checkov

# Airflow 2.10 and 3.x, each with the providers the DAG uses and moto, fully pinned.
venv-airflow2: .venvs/airflow2/.installed
venv-airflow3: .venvs/airflow3/.installed

.venvs/airflow%/.installed: requirements-airflow%.txt
	rm -rf .venvs/airflow$*
	uv venv --quiet --python $(PYTHON) .venvs/airflow$*
	VIRTUAL_ENV=.venvs/airflow$* uv pip install --quiet -r requirements-airflow$*.txt
	@touch $@

# checkov, fully pinned: it scans the generated Dockerfile and Terraform.
venv-checkov: .venvs/checkov/.installed

.venvs/checkov/.installed: requirements-checkov.txt
	rm -rf .venvs/checkov
	uv venv --quiet --python $(PYTHON) .venvs/checkov
	VIRTUAL_ENV=.venvs/checkov uv pip install --quiet -r requirements-checkov.txt
	@touch $@

# Re-pin checkov: set its version on the "Top-level" line of requirements-checkov.txt first.
lock-checkov:
	sed -n 's/^# Top-level: //p' requirements-checkov.txt > requirements-checkov.in
	uv pip compile --quiet --python $(PYTHON) --no-annotate --no-header requirements-checkov.in > requirements-checkov.body
	{ sed -n 1,3p requirements-checkov.txt; cat requirements-checkov.body; } > requirements-checkov.new
	mv requirements-checkov.new requirements-checkov.txt; rm requirements-checkov.in requirements-checkov.body

# Re-pin the Airflow venvs after changing tests/airflow_harness/requirements-airflow*.in.
lock-airflow:
	for v in 2 3; do uv pip compile --quiet --python $(PYTHON) --no-annotate --no-header \
	  tests/airflow_harness/requirements-airflow$$v.in > requirements-airflow$$v.body; \
	  { sed -n 1,3p requirements-airflow$$v.txt; cat requirements-airflow$$v.body; } > requirements-airflow$$v.new; \
	  mv requirements-airflow$$v.new requirements-airflow$$v.txt; rm requirements-airflow$$v.body; done

demo: venv
	rm -rf $(BUILD)/analytics-dbt
	$(BIN)/cookiecutter --no-input --output-dir $(BUILD) .
	$(MAKE) -C $(BUILD)/analytics-dbt run PYTHON=$(abspath $(BIN)/python)

test: venv venvs
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The fast tier, for every edit: the hooks, the bake of every answer and the README's examples
# (about 20 seconds); `make test` before a commit.
test-fast: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) tests/test_hooks.py tests/test_cookiecutter_generation.py tests/test_readme_examples.py $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check hooks tests bench
	$(BIN)/ruff format --check hooks tests bench

# Benchmarks; bench/RESULTS.md has the latest full run. QUICK=1: small N, one repetition,
# under two minutes. The whole suite's time is read from a recorded run, never rerun here:
# SUITE_SECONDS=<s>, or build/junit.xml from `make test PYTEST_ARGS=--junitxml=build/junit.xml`.
QUICK ?=
SUITE_SECONDS ?=
bench: venv venv-airflow3
	$(BIN)/python -m bench --profile $(if $(QUICK),quick,full) $(if $(SUITE_SECONDS),--suite-seconds $(SUITE_SECONDS))

clean:
	rm -rf $(BUILD) .pytest_cache
