#!/bin/sh
# The reference for `make bench BENCH_ARGS="--reference-url http://127.0.0.1:18080"`: Alerta 9.1 (Flask,
# PostgreSQL, gunicorn) on this machine, outside the repository.
#
#   sh bench/reference-alerta.sh [start]   (re)create the database, start gunicorn in the background
#   sh bench/reference-alerta.sh stop      stop it
#   sh bench/reference-alerta.sh status
#
# Settings (environment): REF_VENV (/tmp/alerta-ref), REF_PORT (18080), REF_DB (alerta_bench),
# REF_WORKERS (5), REF_THREADS (1). The defaults are the best of the configurations measured on a
# 2-core machine (see the bench report); AUTH_REQUIRED=False, as a producer-facing Alerta often runs.
set -eu

VENV=${REF_VENV:-/tmp/alerta-ref}
PORT=${REF_PORT:-18080}
DB=${REF_DB:-alerta_bench}
WORKERS=${REF_WORKERS:-5}
THREADS=${REF_THREADS:-1}
RUN=${REF_RUN_DIR:-$VENV/run}
PIDFILE=$RUN/gunicorn.pid
SOCKET_DIR=/var/run/postgresql

psql_admin() {
    # As the postgres superuser: via su when we are root, else as the current user (-U postgres).
    if [ "$(id -u)" = 0 ]; then
        su postgres -c "psql -q -v ON_ERROR_STOP=1 -c \"$1\""
    else
        psql -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -U postgres -c "$1"
    fi
}

install() {
    if "$VENV/bin/python" -c 'import alerta, psycopg2' 2>/dev/null && [ -x "$VENV/bin/gunicorn" ]; then
        return  # reuse the venv: installing is the slow part
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
        echo "reference Alerta stopped"
    else
        echo "reference Alerta is not running"
    fi
    rm -f "$PIDFILE"
}

start() {
    install
    stop >/dev/null
    mkdir -p "$RUN"
    # A clean database per run: Alerta creates its schema on first start.
    psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
    psql_admin "CREATE DATABASE $DB"
    cat > "$RUN/alertad.conf" <<EOF
DEBUG = False
LOG_LEVEL = 'WARNING'
AUTH_REQUIRED = False
DATABASE_URL = 'postgresql://postgres@/$DB?host=$SOCKET_DIR'
DATABASE_NAME = '$DB'
EOF
    # The config file alone decides: no stray DATABASE_URL from the caller's environment. The schema is
    # created once before the workers start: workers creating it concurrently fail to boot.
    env -u DATABASE_URL ALERTA_SVR_CONF_FILE="$RUN/alertad.conf" \
        "$VENV/bin/python" -c 'from alerta import create_app; create_app()'
    env -u DATABASE_URL ALERTA_SVR_CONF_FILE="$RUN/alertad.conf" \
        "$VENV/bin/gunicorn" 'alerta:create_app()' --bind "127.0.0.1:$PORT" \
        --workers "$WORKERS" --threads "$THREADS" --daemon --pid "$PIDFILE" \
        --log-level warning --error-logfile "$RUN/gunicorn.log"
    i=0
    until curl -sf "http://127.0.0.1:$PORT/_" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "the reference did not answer within 20s; see $RUN/gunicorn.log" >&2
            tail -20 "$RUN/gunicorn.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "reference Alerta 9.1 ($WORKERS workers x $THREADS threads, database $DB) at http://127.0.0.1:$PORT"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status)
        if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            echo "running at http://127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
        else
            echo "not running"; exit 1
        fi ;;
    *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
