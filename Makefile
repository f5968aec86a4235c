# Perseverance Tracker. The two commands a person needs:
#   make run    set up (virtualenv, pip), load the data when the store is empty, serve the dashboard
#   make test   set up (virtualenv, pip, Debian packages) and run the whole test suite
# Both do their own set-up on a fresh Debian/Ubuntu machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

# Debian packages the test suite needs: a private redis-server per test session,
# Chromium + its driver for the browser tests and the exports, docker-compose to
# validate deploy/compose.yaml (no Docker engine needed for that), buildah and debootstrap
# to build the image and start it (tests/deploy/test_image.py, make image-test).
TEST_DEBS := redis-server chromium chromium-driver docker-compose curl buildah debootstrap
# Debian packages `make run` needs: Chromium, which the export worker draws with.
RUN_DEBS := chromium

# Container image and deployment (need Docker / kubectl; see README "Deployment").
REGISTRY ?=
IMAGE ?= ptracker
TAG ?= latest
IMAGE_REF := $(if $(REGISTRY),$(REGISTRY)/,)$(IMAGE):$(TAG)
TEST_IMAGE ?= localhost/ptracker:test
COMPOSE := docker compose -p perseverance-tracker -f deploy/compose.yaml

.PHONY: run test bench setup setup-dev system-deps-test system-deps-run clean build push up down k8s-apply k8s-delete image image-test

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

system-deps-run:
	@deploy/ensure-debian-packages.sh $(RUN_DEBS)

# Serves on PORT (default 8050); embedded Redis in PTRACKER_DATA_DIR unless REDIS_URL is set.
run: setup system-deps-run
	$(BIN)/python -m dashboard run

test: setup-dev system-deps-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup-dev system-deps-test
	@deploy/ensure-debian-packages.sh wrk
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_dashboard.py
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_load_run.py

clean:
	rm -rf $(VENV) .pytest_cache

# The image built and started without Docker (buildah; a Debian stand-in for the base
# image when docker.io cannot be reached). See README "Deployment".
image:
	deploy/image/build.sh $(TEST_IMAGE)

image-test:
	PTRACKER_TEST_IMAGE=$(TEST_IMAGE) deploy/image/test.sh

build:
	docker build -f deploy/Dockerfile -t $(IMAGE_REF) .

push: build
	docker push $(IMAGE_REF)

deploy/redis.env:
	@umask 077; printf 'REDIS_PASSWORD=%s\n' "$$(python3 -c 'import secrets; print(secrets.token_hex(24))')" > $@
	@echo "wrote $@ with a random Redis password"

up: deploy/redis.env
	PTRACKER_IMAGE=$(IMAGE_REF) $(COMPOSE) up --build -d
	@echo "dashboard on http://127.0.0.1:$${PORT:-8050}/ (make down stops it; data stays in the redis-data volume)"

down:
	$(COMPOSE) down

# kustomize renders the app image as ptracker:latest; point it at IMAGE_REF
k8s-apply:
	kubectl kustomize deploy/k8s | sed 's#image: ptracker:latest#image: $(IMAGE_REF)#' | kubectl apply -f -

k8s-delete:
	kubectl delete -k deploy/k8s
