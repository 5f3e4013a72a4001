# The gate: `make run` starts alertbus, `make test` runs the whole suite. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
BENCH_ARGS ?=
QUERY_BENCH_ARGS ?=

.PHONY: run test bench chaos lint typecheck clean broker

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/alertbus run

test: $(STAMP)
	$(PY) -m pytest -q -m "not chaos" $(PYTEST_ARGS)

chaos: $(STAMP)
	$(PY) -m pytest -q -m chaos tests/chaos

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.query $(QUERY_BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check shared services tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy shared services

# Start a local RabbitMQ when none answers, and enable the plugin alertbus needs (needs root).
broker:
	sh scripts/ensure-rabbitmq.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
