#!/bin/sh
# `make run`'s broker check, before `alertbus run`: nothing to do when the broker of AMQP_URL (default
# 127.0.0.1:5672) answers. When it is the local default broker and does not answer, start it as CI does
# (scripts/ensure-rabbitmq.sh) if this shell can (root, rabbitmq-server installed); else print, in one line,
# the command that would, and fail.
set -eu
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}

# host, port and whether the broker answers; never the password of the URL.
probe=$("$python" - <<'PY'
import os, socket
from urllib.parse import urlsplit
url = urlsplit(os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/")
try:
    host, port = url.hostname or "127.0.0.1", url.port or (5671 if url.scheme == "amqps" else 5672)
except ValueError:
    host, port = "?", 0
answers = "no"
if port:
    try:
        socket.create_connection((host, port), timeout=2).close()
        answers = "yes"
    except OSError:
        pass
print(host, port, answers)
PY
)
set -- $probe
host=$1 port=$2 answers=$3
[ "$answers" = yes ] && exit 0

where="$host:$port"
case "$host" in
  127.0.0.1|localhost|::1) local_default=$([ "$port" = 5672 ] && echo yes || echo no) ;;
  *) local_default=no ;;
esac
if [ "$local_default" = no ]; then
  echo "alertbus: no broker answers at $where (AMQP_URL): start it there, or unset AMQP_URL to use a local RabbitMQ" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ] && command -v rabbitmq-server >/dev/null 2>&1; then
  exec sh scripts/ensure-rabbitmq.sh
fi
sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo ")
if command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ]; then
  echo "alertbus: no RabbitMQ answers at $where; start it with: ${sudo}make broker" >&2
elif command -v apt-get >/dev/null 2>&1; then
  echo "alertbus: no RabbitMQ answers at $where; install and start it with: ${sudo}apt-get install -y rabbitmq-server && ${sudo}make broker" >&2
else
  echo "alertbus: no RabbitMQ answers at $where; install RabbitMQ (3.13+), then run: ${sudo}make broker" >&2
fi
exit 1
