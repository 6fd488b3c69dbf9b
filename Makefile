# lofar-hires: set-up, demo and tests. Every target installs what it needs (idempotent).
#   make demo   lofar-hires run on the simulated medium field with cwltool (tools/run_demo.sh);
#               make demo DEMO_CONFIG=tiny for the quicker tiny field
#   make test   run the whole test suite
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Debian packages: what lofar-hires runs with (also installed by containers/Containerfile and by the
# README's "Using it without make"), and what the local SLURM tests need (tools/slurm_local.sh).
APT_RUNTIME := python3-venv wsclean casacore-data casacore-data-observatories libglib2.0-0
APT_SLURM := slurm-wlm munge
APT_PACKAGES := $(APT_RUNTIME) $(APT_SLURM)
STAMP := $(VENV)/.lofar-hires-installed
DEMO_DIR ?= demo_output
# the run configuration of `make demo` (empty: lofar-hires run's embedded default, medium)
DEMO_CONFIG ?=
PYTEST_ARGS ?=
# Tests run in parallel workers (pytest-xdist); tests sharing an expensive fixture stay in one worker
# (tests/conftest.py, xdist_group). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

.PHONY: setup system-deps venv demo test test-hard test-fast bench clean-demo container

setup: system-deps venv

system-deps:
	@bash tools/install_system_deps.sh $(APT_PACKAGES)

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=23" "setuptools>=68" wheel
	$(PIP) install --quiet -c constraints.txt -e ".[workflow,test,classifier]"
	@touch $(STAMP)

demo: setup
	@bash tools/run_demo.sh $(DEMO_DIR) $(DEMO_CONFIG)

test: setup
	$(PY) -m pytest -m "not hard_case" $(PARALLEL) $(PYTEST_ARGS)

test-hard: setup
	$(PY) -m pytest -m hard_case $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow and not slurm" $(PARALLEL) $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/bench_simulate.py
	$(PY) benchmarks/bench_h5_merge.py --case medium
	$(PY) benchmarks/bench_dd.py --calibrators 2 --observations 1
	$(PY) benchmarks/bench_subtract.py --facets 4 8 --faint 200 --duration-s 900

# The container image of containers/ (containers/README.md; minutes, not part of `make test`), e.g.
#   make container CONTAINER_ARGS="podman --base debootstrap"   or   CONTAINER_ARGS=apptainer
CONTAINER_ARGS ?= podman
container:
	@bash tools/build_container.sh $(CONTAINER_ARGS)

clean-demo:
	rm -rf $(DEMO_DIR)
