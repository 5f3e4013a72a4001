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
# runs the benchmark's reference (authentication off, port 18080); this one shares nothing with it.
set -eu

VENV=${PARITY_VENV:-/tmp/alerta-parity}
PORT=${PARITY_REF_PORT:-18090}
DB=${PARITY_DB:-alerta_parity}
KEY=${PARITY_KEY:-parity-admin-key}
ADMIN=${PARITY_ADMIN:-admin@alerta.io}
PASSWORD=${PARITY_PASSWORD:-alerta}
RUN=$VENV/run
PIDFILE=$RUN/gunicorn.pid
SOCKET_DIR=/var/run/postgresql

psql_admin() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -c "psql -q -v ON_ERROR_STOP=1 -c \"$1\""
    else
        psql -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -U postgres -c "$1"
    fi
}

install() {
    if "$VENV/bin/python" -c 'import alerta, psycopg2' 2>/dev/null && [ -x "$VENV/bin/gunicorn" ]; then
        return  # installing is the slow part (about a minute): a venv that has it is kept
    fi
    echo "creating $VENV with alerta-server 9.1.0"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'alerta-server==9.1.0' psycopg2-binary gunicorn
}

stop() {
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    fi
    rm -f "$PIDFILE"
}

start() {
    install
    stop
    mkdir -p "$RUN"
    psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
    psql_admin "CREATE DATABASE $DB"
    # What the container's entrypoint writes from its environment. One worker: the parity run is sequential,
    # and Alerta keeps nothing per process that a second worker would change.
    cat > "$RUN/alertad.conf" <<EOF
DEBUG = False
LOG_LEVEL = 'WARNING'
AUTH_REQUIRED = True
ADMIN_USERS = ['$ADMIN']
SECRET_KEY = 'parity-reference-secret'
DATABASE_URL = 'postgresql://postgres@/$DB?host=$SOCKET_DIR'
DATABASE_NAME = '$DB'
EOF
    export ALERTA_SVR_CONF_FILE="$RUN/alertad.conf"
    unset DATABASE_URL || true
    # The schema is created by the first create_app; then the admin user and key, as the container does.
    "$VENV/bin/python" -c 'from alerta import create_app; create_app()'
    "$VENV/bin/alertad" --app 'alerta:create_app()' user --all --password "$PASSWORD" >/dev/null
    "$VENV/bin/alertad" --app 'alerta:create_app()' key --username "$ADMIN" --key "$KEY" --scope admin >/dev/null
    "$VENV/bin/gunicorn" 'alerta:create_app()' --bind "127.0.0.1:$PORT" --workers 1 --threads 1 --daemon \
        --pid "$PIDFILE" --log-level warning --error-logfile "$RUN/gunicorn.log"
    i=0
    until curl -sf "http://127.0.0.1:$PORT/_" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 150 ]; then
            echo "the parity reference did not answer within 30s; see $RUN/gunicorn.log" >&2
            tail -20 "$RUN/gunicorn.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "reference Alerta 9.1 (database $DB, key for $ADMIN) at http://127.0.0.1:$PORT"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
