#!/bin/sh
# Make sure a RabbitMQ answers at 127.0.0.1:5672 with the consistent-hash exchange enabled.
set -eu
answers() { python3 - <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", 5672)); sys.exit(0)
except OSError:
    sys.exit(1)
PY
}
if ! answers; then
  echo "RabbitMQ does not answer on 127.0.0.1:5672; starting it"
  rabbitmq-server -detached
  rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || rabbitmqctl wait --timeout 120 /var/lib/rabbitmq/mnesia/rabbit@$(hostname).pid || true
fi
rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
rabbitmq-plugins enable --quiet rabbitmq_consistent_hash_exchange >/dev/null
i=0
until answers; do
  i=$((i+1)); [ "$i" -gt 60 ] && { echo "RabbitMQ did not come up" >&2; exit 1; }
  sleep 1
done
echo "RabbitMQ is up with rabbitmq_consistent_hash_exchange"
