# verify-service: `make run` serves on 127.0.0.1:8000 with SQLite; `make test` runs the whole suite.
# TEST_WORKERS: pytest-xdist workers (4 measured best on 2 cores: the suite waits on gunicorn, browsers, sleeps; `auto` = one per core).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= 4
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint migrate bench clean translations screenshots

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"' \
	  || { echo "verify-service needs Python 3.11 or newer as $(PYTHON)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "Could not create $(VENV). On Debian/Ubuntu: sudo apt-get install -y python3-venv"; exit 1; }
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

migrate: $(VENV)/.runtime ## Create or upgrade the database schema (VERIFY_DATABASE_URL, default SQLite in var/)
	$(BIN)/flask --app wsgi db upgrade

run: migrate ## Serve with gunicorn on 127.0.0.1:8000 (SQLite, no Redis), with one demo key per role
	@$(BIN)/flask --app wsgi keys demo --file var/demo-keys.env
	@$(BIN)/flask --app wsgi users demo --file var/demo-users.env
	@echo "Serving on http://$(HOST):$(PORT) ; agent console: http://$(HOST):$(PORT)/console ; API keys: source var/demo-keys.env"
	$(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

test: $(VENV)/.dev ## The whole suite, in parallel (finds PostgreSQL and Redis, or starts throwaway ones)
	$(BIN)/pytest -n $(TEST_WORKERS)

test-fast: $(VENV)/.dev ## Unit and API tests on SQLite alone, in parallel: the inner loop (no servers needed)
	$(BIN)/pytest -n $(TEST_WORKERS) --sqlite-only -m "not slow" tests/unit tests/api

lint: $(VENV)/.dev ## ruff and mypy
	$(BIN)/ruff check verify_service tests bench examples wsgi.py gunicorn.conf.py migrations/env.py
	$(BIN)/mypy

bench: $(VENV)/.dev ## Load benchmark (needs wrk, valgrind, PostgreSQL, Redis; keeps its seeded databases): writes bench/RESULTS.md
	@command -v wrk >/dev/null || { echo "wrk is not installed: sudo apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/run.py --keep --reuse

LOCALES := verify_service/translations
translations: $(VENV)/.runtime ## Words: extract them into the catalogs (pybabel extract + update), then compile the .mo files
	PYTHONPATH=. $(BIN)/pybabel extract -F babel.cfg -c TRANSLATORS: --add-location=file --sort-output --no-wrap \
	  --project verify-service --copyright-holder "verify-service contributors" -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -d $(LOCALES) --statistics

screenshots: $(VENV)/.dev ## The README's console screenshots (en, ja), taken by the browser tests, copied into docs/
	$(BIN)/pytest -q -n 0 tests/browser/test_screenshots_browser.py
	cp tests/browser/artifacts/docs/console-*.png docs/

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
