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
# validate deploy/compose.yaml (no Docker engine needed for that), nginx (run for real
# in front of gunicorn by the proxy tests) and envsubst (gettext-base) to render its config,
# buildah and debootstrap to build the image and start it (tests/deploy/test_image.py, make image-test).
TEST_DEBS := redis-server redis-sentinel chromium chromium-driver docker-compose curl nginx gettext-base buildah debootstrap
# Debian packages `make run` needs: Chromium, which the export worker draws with.
RUN_DEBS := chromium

# Container image and deployment (need Docker / kubectl; see docs/deployment/).
REGISTRY ?=
IMAGE ?= ptracker
TAG ?= latest
IMAGE_REF := $(if $(REGISTRY),$(REGISTRY)/,)$(IMAGE):$(TAG)
TEST_IMAGE ?= localhost/ptracker:test
COMPOSE := docker compose -p perseverance-tracker -f deploy/compose.yaml

.PHONY: lock axe lint docs docs-serve test-fast run test bench setup setup-dev system-deps-test system-deps-run clean build push up down k8s-apply k8s-delete image image-test

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
	@$(MAKE) --no-print-directory axe || echo "axe-core could not be fetched: the accessibility tests will be skipped"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint (ruff: pycodestyle, pyflakes, bugbear, complexity, import order, pyupgrade; and its
# formatter) and types (mypy over dashboard/ and jobs/), configured in pyproject.toml; then
# the documentation site built with --strict (a broken link or page, or an app whose
# /openapi.json cannot be generated for the API reference, fails it). Offline.
# NO_MKDOCS_2_WARNING silences mkdocs-material's banner about MkDocs 2.0.
SITE_DIR := .site
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs
lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(MKDOCS) build --strict --site-dir $(SITE_DIR)

# The documentation site (mkdocs.yml, docs/): built into SITE_DIR, or served with live
# reload on http://127.0.0.1:8000/ while editing.
docs: setup-dev
	$(MKDOCS) build --strict --site-dir $(SITE_DIR)

docs-serve: setup-dev
	$(MKDOCS) serve

# The unit tests only: pure code, no Redis, no browser, no subprocesses (a few seconds).
test-fast: setup-dev
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

# axe-core (MPL-2.0), pinned, for the accessibility checks of the browser tests; fetched
# from the npm registry into a gitignored folder and checked against its sha256.
AXE_VERSION := 4.14.1
AXE_SHA256 := 29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c
AXE_JS := tests/browser/vendor/axe.min.js
axe: $(AXE_JS)
$(AXE_JS):
	@mkdir -p $(dir $@)
	curl -sSfL https://registry.npmjs.org/axe-core/-/axe-core-$(AXE_VERSION).tgz | tar -xzO package/axe.min.js > $@.tmp
	echo "$(AXE_SHA256)  $@.tmp" | sha256sum -c --quiet - && mv $@.tmp $@

# requirements.lock (what the image installs, with --require-hashes): every package with
# the sha256 of its files, from requirements.txt's pins, for any Python 3.11 (uv's universal
# resolution keeps the markers: redis needs async-timeout below 3.11.3, Debian's 3.11.2).
# Re-run after changing requirements.txt (needs PyPI); make test fails while they disagree.
lock: setup-dev
	$(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes --quiet \
		--output-file requirements.lock requirements.txt

bench: setup-dev system-deps-test
	@deploy/ensure-debian-packages.sh wrk
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_dashboard.py
	$(BIN)/python bench/bench_dashboard.py --rover curiosity
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/page_bytes.py
	$(BIN)/python bench/page_bytes.py --rover curiosity
	$(BIN)/python bench/bench_exports.py
	$(BIN)/python bench/bench_load_run.py
	$(BIN)/python bench/bench_caches.py
	$(BIN)/python bench/bench_refresh.py
	$(BIN)/python bench/bench_live.py
	$(BIN)/python bench/bench_replay.py
	$(BIN)/python bench/time_to_charts.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .site

# The image built and started without Docker (buildah; a Debian stand-in for the base
# image when docker.io cannot be reached). See docs/deployment/image.md.
image:
	deploy/image/build.sh $(TEST_IMAGE)

image-test:
	PTRACKER_TEST_IMAGE=$(TEST_IMAGE) deploy/image/test.sh

build:
	docker build -f deploy/Dockerfile -t $(IMAGE_REF) .

push: build
	docker push $(IMAGE_REF)

# Secrets are generated when missing and never overwritten; a value given in the
# environment (REDIS_PASSWORD=..., PTRACKER_ADMIN_TOKEN=...) is used instead of a random one.
# They go through stdin or a 0600 file, never a command line.
NEW_SECRET = python3 -c 'import secrets; print(secrets.token_hex(24), end="")'
# "the given" or "a random", for a message that never prints the secret itself
given_or_random = $$([ -n "$${$(1):-}" ] && echo "the given" || echo "a random")

deploy/redis.env:
	@umask 077; printf 'REDIS_PASSWORD=%s\n' "$${REDIS_PASSWORD:-$$($(NEW_SECRET))}" > $@
	@echo "wrote $@ with $(call given_or_random,REDIS_PASSWORD) Redis password"

deploy/admin.env:
	@umask 077; printf 'PTRACKER_ADMIN_TOKEN=%s\n' "$${PTRACKER_ADMIN_TOKEN:-$$($(NEW_SECRET))}" > $@
	@umask 077; sed -n 's/^PTRACKER_ADMIN_TOKEN=/Authorization: Bearer /p' $@ > deploy/admin.header
	@echo "wrote $@ with $(call given_or_random,PTRACKER_ADMIN_TOKEN) admin token (POST /load needs it)"

up: deploy/redis.env deploy/admin.env
	PTRACKER_IMAGE=$(IMAGE_REF) $(COMPOSE) up --build -d
	@echo "dashboard on http://127.0.0.1:$${PORT:-8050}/ through nginx (make down stops it; data stays in the redis-data volume)"
	@echo "the data loads by itself when the store is empty; to reload it (admin token in deploy/admin.env):"
	@echo "  curl -X POST -H @deploy/admin.header http://127.0.0.1:$${PORT:-8050}/load   (the token stays off the command line)"

down:
	$(COMPOSE) down

# Kubernetes. The namespace first, then the two Secrets when they do not exist yet (never
# replaced: a running Redis keeps its password), then the kustomization with IMAGE_REF.
# The install Job (load-if-empty) is deleted first when finished, so a changed image can
# be applied (a Job's pod template is immutable) and the Job runs again (harmless: it loads
# only into an empty store).
KUBECTL ?= kubectl
K8S_NS := perseverance-tracker

k8s-apply:
	$(KUBECTL) apply -f deploy/k8s/namespace.yaml
	@if $(KUBECTL) -n $(K8S_NS) get secret redis-auth >/dev/null 2>&1; then \
	  echo "Secret redis-auth exists: kept"; \
	else \
	  if [ -n "$${REDIS_PASSWORD:-}" ]; then printf '%s' "$$REDIS_PASSWORD"; else $(NEW_SECRET); fi \
	    | $(KUBECTL) -n $(K8S_NS) create secret generic redis-auth --from-file=REDIS_PASSWORD=/dev/stdin \
	  && echo "created Secret redis-auth with $(call given_or_random,REDIS_PASSWORD) Redis password"; \
	fi
	@if $(KUBECTL) -n $(K8S_NS) get secret ptracker-admin >/dev/null 2>&1; then \
	  echo "Secret ptracker-admin exists: kept"; \
	else \
	  if [ -n "$${PTRACKER_ADMIN_TOKEN:-}" ]; then printf '%s' "$$PTRACKER_ADMIN_TOKEN"; else $(NEW_SECRET); fi \
	    | $(KUBECTL) -n $(K8S_NS) create secret generic ptracker-admin --from-file=PTRACKER_ADMIN_TOKEN=/dev/stdin \
	  && echo "created Secret ptracker-admin with $(call given_or_random,PTRACKER_ADMIN_TOKEN) admin token"; \
	fi
	@if [ "$$($(KUBECTL) -n $(K8S_NS) get job load-on-install -o jsonpath='{.status.active}' 2>/dev/null)" != "1" ]; then \
	  $(KUBECTL) -n $(K8S_NS) delete job load-on-install --ignore-not-found; \
	fi
	$(KUBECTL) kustomize deploy/k8s | sed 's#image: ptracker:latest#image: $(IMAGE_REF)#' | $(KUBECTL) apply -f -
	@echo "the Job load-on-install loads the data into an empty store; the page is served as soon as web is ready"
	@echo "the clock Deployment refreshes the data every PTRACKER_REFRESH_SECONDS (ConfigMap ptracker-config, 900 s)"
	@echo "to reload the data now: $(KUBECTL) -n $(K8S_NS) exec deploy/clock -c refresher -- python -m dashboard load"
	@echo "POST /load is closed: it needs the admin token (Secret ptracker-admin). Web pods may not reach the"
	@echo "internet (NetworkPolicy app-egress-redis-dns), so loading through the Ingress works only once that"
	@echo "policy lets them reach NASA; then:"
	@echo "  (umask 077; $(KUBECTL) -n $(K8S_NS) get secret ptracker-admin -o jsonpath='{.data.PTRACKER_ADMIN_TOKEN}' \\"
	@echo "     | base64 -d | sed 's/^/Authorization: Bearer /' > admin.header)"
	@echo "  curl -X POST -H @admin.header http://<ingress host>/load   (Authorization: Bearer <token>, off the command line)"

k8s-delete:
	$(KUBECTL) delete -k deploy/k8s
