# `make run` starts alertbus; `make check` is the gate (lint, strict typecheck, the suite but chaos: `make test`).
# Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
# One venv, two installs: `make run` needs only the runtime dependencies and the embedded store (RUN_STAMP);
# the gate's tools (tests, linters, type checker, fuzzers: '.[dev]', a superset) come with STAMP.
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
BENCH_ARGS ?=
QUERY_BENCH_ARGS ?=

.PHONY: run test check bench chaos fuzz lint typecheck format clean broker parity integration

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[embedded]'
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

# A broker must answer first: the local default one is started when this shell can (root, rabbitmq-server
# installed), else scripts/broker-for-run.sh prints the one command that would.
run: $(RUN_STAMP)
	@PYTHON=$(PY) sh scripts/broker-for-run.sh
	$(VENV)/bin/alertbus run

test: $(STAMP)
	$(PY) -m pytest -q -m "not chaos" $(PYTEST_ARGS)

chaos: $(STAMP)
	$(PY) -m pytest -q -m chaos tests/chaos

# Hostile input through every door: FUZZ_REQUESTS generated HTTP requests and FUZZ_MESSAGES AMQP messages
# (make test runs a few hundred of each), plus the schemathesis and hypothesis runs. FUZZ_SEED replays a run.
FUZZ_REQUESTS ?= 10000
FUZZ_MESSAGES ?= 1000
fuzz: $(STAMP)
	FUZZ_REQUESTS=$(FUZZ_REQUESTS) FUZZ_MESSAGES=$(FUZZ_MESSAGES) $(PY) -m pytest -q -s --timeout 3600 \
		tests/test_fuzz_hostile.py tests/test_fuzz.py

# The write path (201 and 202, beside a reference Alerta with BENCH_ARGS="--reference-url …"), a 202 burst on a
# fresh `alertbus run` driven by wrk (Debian's wrk), then the read path.
BURST_ARGS ?=
bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "make bench needs wrk for its 202 burst (Debian: apt-get install wrk)" >&2; exit 1; }
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.burst --start $(BURST_ARGS)
	$(PY) -m bench.query $(QUERY_BENCH_ARGS)

# Differential test against Alerta 9.1 (tests/parity): a reference Alerta on this machine's PostgreSQL (installed
# once in PARITY_VENV, its database recreated) and a fresh `alertbus run` get the same requests; every difference
# not declared in tests/parity/deliberate.yaml fails. PARITY_ARGS: e.g. --only queries.
PARITY_ARGS ?=
parity: $(STAMP)
	sh scripts/ensure-postgres.sh
	sh scripts/parity-reference.sh start
	$(PY) -m tests.parity $(PARITY_ARGS); status=$$?; sh scripts/parity-reference.sh stop; exit $$status

# The `alerta` 8.5.3 client's own integration tests (from its sdist on the package index) against a fresh
# alertbus started as Alerta's container is; fails unless every test passes.
integration: $(STAMP)
	PYTHON=$(PY) sh scripts/alerta-integration.sh

# The gate CI runs (after make chaos): lint, strict typecheck, the suite. Run it before every commit.
check: lint typecheck test

lint: $(STAMP)
	$(VENV)/bin/ruff check shared services tests bench

# ruff's safe fixes (import order, modern syntax). The layout of the code is kept by hand: ruff's formatter
# would rewrap most files into a style this code base does not use.
format: $(STAMP)
	$(VENV)/bin/ruff check --fix shared services tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Start a local RabbitMQ when none answers, and enable the plugin alertbus needs (needs root).
broker:
	sh scripts/ensure-rabbitmq.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
