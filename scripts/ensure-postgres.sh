#!/bin/sh
# The PostgreSQL that `make parity`'s reference Alerta runs on: installed (Debian/Ubuntu, as root) when missing,
# its cluster started when it is not running. Idempotent; a no-op on a machine where it already runs.
set -eu
if ! command -v pg_lsclusters >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is not installed; run as root: apt-get install -y postgresql" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_lsclusters --no-header | while read -r version cluster _port status _rest; do
    case "$status" in
        online*) ;;
        *) pg_ctlcluster "$version" "$cluster" start ;;
    esac
done
pg_lsclusters --no-header | grep -q online || { echo "no PostgreSQL cluster is online" >&2; exit 1; }
echo "PostgreSQL is up"
