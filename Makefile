# The two commands of the contract: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= $(shell echo $$(($(PORT) + 1)))
export HOST PORT SANDBOX_PORT

.PHONY: run test lint format clean

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# WEB_CONCURRENCY=N (with REDIS_URL) starts N web processes; platform_site/run.py.
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py seeddemo
	$(PY) -m platform_site.run

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --cache-dir var/import_linter_cache

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/*.sqlite3 var/broker var/celerybeat-schedule* var/prometheus

# Benchmarks of issue 5 (bench/README.md): `make bench`, or `make bench BENCH_ARGS=--quick`.
.PHONY: bench
bench: $(VENV)/.installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench.run $(BENCH_ARGS)
