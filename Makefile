# Two commands for a fresh machine:
#   make run   - create .venv, install pinned dependencies, run the default campaign
#   make test  - install what the tests need, run them (all of them, in random order)
# For the edit loop: make test-fast - all but the slow end-to-end cases (under 3 min).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
CONFIG ?= config/config.yaml
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-slurm lint format dag report clean-results install-slurm-profile help

help:
	@echo "make run    - install into .venv and run the default campaign ($(CONFIG))"
	@echo "make test   - install test dependencies and run the test suite"
	@echo "make test-fast - the suite without the slow end-to-end tests (edit loop)"
	@echo "make test-slurm - start a single-node Slurm here and run the Slurm test"
	@echo "make lint   - snakemake --lint, ruff, snakefmt --check"
	@echo "make report - build results/<campaign>/report.html"
	@echo "make install-slurm-profile - install profiles/slurm as ~/.config/snakemake/slurm"

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[workflow,test,mlip]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report $$($(BIN)/python -c "import yaml,sys; c=yaml.safe_load(open('$(CONFIG)')); print(c.get('results_dir','results')+'/'+c.get('campaign','default')+'/report.html')")

# Random order (pytest-randomly): the seed is printed at the end; repeat an order with
# PYTEST_ARGS=--randomly-seed=<seed>, run in file order with PYTEST_ARGS="-p no:randomly".
PYTEST_ARGS ?=
# Test files run on TEST_WORKERS processes (pytest-xdist; a file stays on one worker, so
# its module fixtures are built once); TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q -ra -n $(TEST_WORKERS) \
		--dist loadfile --durations=10 $(PYTEST_ARGS)

# Tests marked slow (LAMMPS runs, end-to-end workflows) are left out; the slowest of the
# rest are listed, so that a test that grew slow gets its mark.
test-fast: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q -ra -m "not slow" \
		--durations=15 --durations-min=3 $(PYTEST_ARGS)

test-slurm: $(STAMP)
	bash .ci/slurm

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks workflow/scripts
	$(BIN)/ruff check --fix src tests benchmarks workflow/scripts
	$(BIN)/snakefmt Snakefile workflow/rules

dag: $(STAMP)
	$(BIN)/snakemake --dag --configfile $(CONFIG) | dot -Tsvg > dag.svg

install-slurm-profile:
	mkdir -p $(HOME)/.config/snakemake/slurm
	cp profiles/slurm/config.yaml $(HOME)/.config/snakemake/slurm/config.yaml
	@echo "installed: snakemake --profile slurm now uses $(HOME)/.config/snakemake/slurm"

clean-results:
	rm -rf results .snakemake
