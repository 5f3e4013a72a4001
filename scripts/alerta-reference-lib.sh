# What the two reference Alerta servers share, sourced by scripts/parity-reference.sh (`make parity`) and
# bench/reference-alerta.sh (`make bench --reference-url`): Alerta 9.1 (Flask, PostgreSQL, gunicorn) installed once
# in a venv of its own, on a database recreated on every start. The caller sets VENV, PORT, DB and RUN first; each
# writes its own configuration (authentication, workers) with `write_config`.

PIDFILE=$RUN/gunicorn.pid
SOCKET_DIR=/var/run/postgresql
DATABASE_URL_OF_DB="postgresql://postgres@/$DB?host=$SOCKET_DIR"

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
        return  # installing is the slow part (about a minute): a venv that has it is kept
    fi
    echo "creating $VENV with alerta-server 9.1.0"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'alerta-server==9.1.0' psycopg2-binary gunicorn
}

# Stop the running reference, if any; fails (status 1) when none was running.
stop_reference() {
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    stopped=0
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        stopped=1
    fi
    rm -f "$PIDFILE"
    [ $stopped = 1 ]
}

# Install (once), stop a running reference, recreate the database and the run directory.
prepare() {
    install
    stop_reference || true
    mkdir -p "$RUN"
    psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
    psql_admin "CREATE DATABASE $DB"
}

# The configuration file Alerta reads (the lines every reference has, then the caller's from stdin).
write_config() {
    {
        echo "DEBUG = False"
        echo "LOG_LEVEL = 'WARNING'"
        cat
        echo "DATABASE_URL = '$DATABASE_URL_OF_DB'"
        echo "DATABASE_NAME = '$DB'"
    } > "$RUN/alertad.conf"
}

# Run a command of the reference's venv with the configuration file alone deciding: no stray DATABASE_URL from
# the caller's environment.
alerta_env() {
    env -u DATABASE_URL ALERTA_SVR_CONF_FILE="$RUN/alertad.conf" "$@"
}

# Create the schema: once, before the workers start (workers creating it concurrently fail to boot).
create_schema() {
    alerta_env "$VENV/bin/python" -c 'from alerta import create_app; create_app()'
}

# serve WORKERS THREADS TRIES NAME: start gunicorn in the background and wait (TRIES x 0.2 s) until it answers.
serve() {
    alerta_env "$VENV/bin/gunicorn" 'alerta:create_app()' --bind "127.0.0.1:$PORT" \
        --workers "$1" --threads "$2" --daemon --pid "$PIDFILE" \
        --log-level warning --error-logfile "$RUN/gunicorn.log"
    i=0
    until curl -sf "http://127.0.0.1:$PORT/_" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt "$3" ]; then
            echo "$4 did not answer within $(($3 / 5))s; see $RUN/gunicorn.log" >&2
            tail -20 "$RUN/gunicorn.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}
