# Two commands do all the set-up: `make report` and `make test`.
# Both create .venv when it is missing and install the suite into it first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tace-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
PROFILE ?= default
COHORT ?=

RUN    ?= reports/$(PROFILE)

.PHONY: install report test test-fast lint bench lab clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 11), "tace needs Python 3.11, .venv has " + sys.version' \
	  || { echo "Remove .venv and run again with PYTHON=python3.11"; exit 1; }
	$(PIP) install --quiet --upgrade pip setuptools wheel
	# PyRadiomics 3.0.1 builds from source and imports numpy in its setup.py.
	$(PIP) install --quiet "numpy~=2.4.6"
	$(PIP) install --quiet --no-build-isolation "pyradiomics==3.0.1"
	$(PIP) install --quiet -e ".[dev]"
	@touch $@

install: $(STAMP)  ## create .venv and install the suite

report: $(STAMP)  ## regenerate the paper report (PROFILE=default, COHORT=manifest.csv optional)
	$(BIN)/tace report --profile $(PROFILE) $(if $(COHORT),--cohort $(COHORT))

lint: $(STAMP)  ## ruff (with a complexity limit) on the code and tests; mypy on tace.stats, .cohort and .io
	$(BIN)/ruff check lib tests benchmarks analysis
	$(BIN)/mypy

test: $(STAMP)  ## run the test suite (slow tests included)
	$(BIN)/python -m pytest --durations=15

test-fast: $(STAMP)  ## run the tests not marked slow
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)  ## print the benchmarks' figures (record them in benchmarks/RESULTS.md)
	$(BIN)/python benchmarks/bench_synth.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_radiomics.py
	$(BIN)/python benchmarks/bench_dcnn.py
	$(BIN)/python benchmarks/bench_hostile.py

lab: $(STAMP)  ## open a run's executed notebooks in JupyterLab (RUN=reports/default) to rerun any cell
	@test -d "$(RUN)/analysis" || { echo "$(RUN) holds no executed notebooks: run make report (or tace validate) first"; exit 1; }
	$(BIN)/jupyter lab --notebook-dir="$(RUN)" "$(RUN)/analysis"

clean:  ## remove .venv and generated reports
	rm -rf $(VENV) reports/*/
