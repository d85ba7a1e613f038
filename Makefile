# Two commands from a fresh clone: `make run` serves the archive, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
export DJANGO_SETTINGS_MODULE := archive.settings

.PHONY: run dev cluster test lint bench install system-deps migrate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py import_seeds
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

# granian, one worker per core, one Python thread each: `make bench` measured it well ahead of gunicorn
# on this kind of machine, and one thread per worker beat granian's default pool on uncached pages.
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
# The Procfile's web server and task worker, started and stopped together by honcho (Ctrl-C stops both).
run: migrate
	$(BIN)/python manage.py check
	HOST=$(HOST) WORKERS=$(WORKERS) exec $(BIN)/honcho start --no-colour --port $(PORT)

# Several servers on one machine, as they would run on several (deploy/cluster.py): PostgreSQL, Redis, two
# app servers, two task workers, nginx on $(PORT). Ctrl-C stops them all.
cluster: install system-deps
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PORT=$(PORT) exec $(BIN)/python deploy/cluster.py

dev: migrate
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Browsers and the HTML checker's Java come from Debian; installed here when missing and we are root.
system-deps:
	@bash .ci/system-deps.sh

test: $(VENV)/.installed-test system-deps
	$(BIN)/ruff check .
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	CACHE_URL=$${TEST_CACHE_URL:-locmem://} ARCHIVE_PAGE_DIR=$(CURDIR)/.cache/test-pages $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

bench: migrate system-deps
	$(BIN)/python tests/bench/run_bench.py
