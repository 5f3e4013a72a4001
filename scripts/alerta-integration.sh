#!/bin/sh
# `make integration`: the `alerta` 8.5.3 client's own integration suite (fetched from the package index) against
# a fresh alertbus started as Alerta's container is. See tests/alerta_integration.py.
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m tests.alerta_integration "$@"
