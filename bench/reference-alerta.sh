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
# The code it shares with `make parity`'s reference: scripts/alerta-reference-lib.sh.
set -eu

VENV=${REF_VENV:-/tmp/alerta-ref}
PORT=${REF_PORT:-18080}
DB=${REF_DB:-alerta_bench}
WORKERS=${REF_WORKERS:-5}
THREADS=${REF_THREADS:-1}
RUN=${REF_RUN_DIR:-$VENV/run}
. "$(dirname "$0")/../scripts/alerta-reference-lib.sh"

stop() {
    if stop_reference; then echo "reference Alerta stopped"; else echo "reference Alerta is not running"; fi
}

start() {
    prepare  # a clean database per run: Alerta creates its schema on first start
    write_config <<EOF
AUTH_REQUIRED = False
EOF
    create_schema
    serve "$WORKERS" "$THREADS" 100 "the reference"
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
