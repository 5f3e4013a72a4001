#!/bin/sh
# The reference of `make parity`: Alerta 9.1 (Flask, PostgreSQL, gunicorn) with authentication on, configured as
# Alerta's container configures itself from ADMIN_USERS / ADMIN_PASSWORD / ADMIN_KEY, on a database that is
# recreated on every start, so that each parity run begins from nothing.
#
#   sh scripts/parity-reference.sh [start]   install (once) and (re)start it
#   sh scripts/parity-reference.sh stop
#
# Settings (environment): PARITY_VENV (/tmp/alerta-parity), PARITY_REF_PORT (18090), PARITY_DB (alerta_parity),
# PARITY_KEY (parity-admin-key), PARITY_ADMIN (admin@alerta.io), PARITY_PASSWORD (alerta). bench/reference-alerta.sh
# runs the benchmark's reference (authentication off, port 18080): the two share their code
# (scripts/alerta-reference-lib.sh), never a venv, a database or a process.
set -eu

VENV=${PARITY_VENV:-/tmp/alerta-parity}
PORT=${PARITY_REF_PORT:-18090}
DB=${PARITY_DB:-alerta_parity}
KEY=${PARITY_KEY:-parity-admin-key}
ADMIN=${PARITY_ADMIN:-admin@alerta.io}
PASSWORD=${PARITY_PASSWORD:-alerta}
RUN=$VENV/run
. "$(dirname "$0")/alerta-reference-lib.sh"

start() {
    prepare
    # What the container's entrypoint writes from its environment.
    write_config <<EOF
AUTH_REQUIRED = True
ADMIN_USERS = ['$ADMIN']
SECRET_KEY = 'parity-reference-secret'
EOF
    # The schema is created by the first create_app; then the admin user and key, as the container does.
    create_schema
    alerta_env "$VENV/bin/alertad" --app 'alerta:create_app()' user --all --password "$PASSWORD" >/dev/null
    alerta_env "$VENV/bin/alertad" --app 'alerta:create_app()' key --username "$ADMIN" --key "$KEY" --scope admin \
        >/dev/null
    # One worker: the parity run is sequential, and Alerta keeps nothing per process that a second worker would
    # change.
    serve 1 1 150 "the parity reference"
    echo "reference Alerta 9.1 (database $DB, key for $ADMIN) at http://127.0.0.1:$PORT"
}

case "${1:-start}" in
    start) start ;;
    stop) stop_reference || true ;;
    *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
