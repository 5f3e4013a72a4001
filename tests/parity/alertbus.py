"""A fresh alertbus for one parity run: ``alertbus run`` as an operator starts it (embedded store in a temporary
``DATA_DIR``, every service a process), configured as Alerta's container is: authentication on, ``ADMIN_USERS``
and the same ``ADMIN_KEY`` the reference's admin key has. Its own ports and broker prefix; its queues and
exchanges are deleted afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from services.embedded import free_port
from shared.settings import Settings
from tests.support.alertbus_run import Run, stop
from tests.support.namespace import delete_topology

ADMIN_USER = "admin@alerta.io"


def run_env(data_dir: str, key: str) -> dict[str, str]:
    env = {**os.environ, "PORT": str(free_port()), "QUERY_PORT": str(free_port()), "HOOKS_PORT": str(free_port()),
           "DATA_DIR": data_dir, "AUTH_REQUIRED": "true", "ADMIN_KEY": key, "ADMIN_USERS": ADMIN_USER,
           "ADMIN_PASSWORD": os.environ.get("PARITY_PASSWORD", "alerta"),
           "BROKER_PREFIX": f"parity-{secrets.token_hex(4)}.", "INGEST_SHARDS": "2", "GATEWAY_PROCESSES": "1",
           "LOG_LEVEL": "WARNING"}
    for name in ("DATABASE_URL", "SERVICE_SECRET", "PUBLIC_URL"):
        env.pop(name, None)
    return env


@contextmanager
def fresh_alertbus(key: str) -> Iterator[str]:
    """Yields the gateway's base URL once ``alertbus run`` printed its banner; stops it (and cleans the broker)
    when the block ends."""
    with tempfile.TemporaryDirectory(prefix="alertbus-parity-") as data_dir:
        env = run_env(data_dir, key)
        proc = Run(env)  # its log is read as it comes: a full pipe never stops it
        url = f"http://127.0.0.1:{env['PORT']}"
        try:
            if url not in proc.banner_line():
                proc.wait(10)
                raise RuntimeError("alertbus run did not start: " + proc.output())
            yield url
        finally:
            stop(proc)
            asyncio.run(delete_topology(Settings.from_env(env)))
