"""The ``alertbus`` command: clear failures, and the all-in-one ``run`` serving real requests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from services.embedded import free_port, outgoing_ports
from shared.settings import Settings

from .support import delete_topology
from .support.alertbus_run import start_run, stop_cleanly

ALERTBUS = str(Path(sys.executable).with_name("alertbus"))


def test_missing_broker_is_one_clear_line_and_exit_code_1() -> None:
    env = {**os.environ, "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/"}
    started = time.monotonic()
    result = subprocess.run([ALERTBUS, "run"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "RabbitMQ" in lines[0] and "did not answer" in lines[0]


def test_bad_setting_names_the_variable() -> None:
    result = subprocess.run([ALERTBUS, "gateway"], env={**os.environ, "PORT": "eighty"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "PORT" in result.stderr


@pytest.mark.timeout(240)
def test_run_starts_everything_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "QUERY_PORT": str(free_port()), "HOOKS_PORT": str(free_port()),
           "DATA_DIR": str(tmp_path), "ADMIN_KEY": "cli-test", "BROKER_PREFIX": f"cli-{port}.",
           "INGEST_SHARDS": "2", "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    proc = start_run(env)
    try:
        body = json.dumps({"resource": "cli", "event": "Up", "environment": "Production", "service": ["s"]})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/alert", data=body.encode(), method="POST",
                                         headers={"Authorization": "Key cli-test"})
        with urllib.request.urlopen(request, timeout=20) as response:
            assert response.status == 201
            alert_id = json.loads(response.read())["id"]
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/alert/{alert_id}?api-key=cli-test", timeout=20
        ) as response:
            assert json.loads(response.read())["alert"]["resource"] == "cli"
    finally:
        try:
            stop_cleanly(proc)
        finally:
            asyncio.run(delete_topology(Settings.from_env(env)))
    assert (tmp_path / "store").is_dir()



def test_a_free_port_is_outside_the_range_outgoing_connections_take() -> None:
    """A port the kernel could hand to any outgoing connection between the check and the listener's bind is not
    free for long (CI saw a service's port taken so): free_port chooses outside that range."""
    low, high = outgoing_ports()
    ports = {free_port() for _ in range(50)}
    assert all(1024 <= port < low or high < port <= 65535 for port in ports), ports
    assert len(ports) > 40  # chosen at random, not one after another from the same start
    with socket.socket() as sock:  # free: it binds
        sock.bind(("127.0.0.1", ports.pop()))
