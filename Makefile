# Perseverance Tracker. The two commands a person needs:
#   make run    set up (virtualenv, pip), load the data when the store is empty, serve the dashboard
#   make test   set up (virtualenv, pip, Debian packages) and run the whole test suite
# Both do their own set-up on a fresh Debian/Ubuntu machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

# Debian packages the test suite needs: a private redis-server per test session, and
# Chromium + its driver for the browser tests.
TEST_DEBS := redis-server chromium chromium-driver

.PHONY: run test bench setup setup-dev system-deps-test clean

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || deploy/ensure-debian-packages.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

system-deps-test:
	@deploy/ensure-debian-packages.sh $(TEST_DEBS)

# Serves on PORT (default 8050); embedded Redis in PTRACKER_DATA_DIR unless REDIS_URL is set.
run: setup
	$(BIN)/python -m dashboard run

test: setup-dev system-deps-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup-dev system-deps-test
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_dashboard.py

clean:
	rm -rf $(VENV) .pytest_cache
