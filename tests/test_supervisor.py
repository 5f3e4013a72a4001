"""``alertbus run`` runs each service in a process of its own (services/supervisor.py): as many gateway processes
as asked for, sharing one port; a child that dies is started again; one that keeps dying stops the run with a
clear message; SIGTERM stops them all. Real processes, the embedded store and the RabbitMQ at ``AMQP_URL``."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.embedded import free_port, venv_command
from shared.settings import Settings

from .support import delete_topology, unique
from .support.alertbus_run import call, gone, run_env, services_of, start_run, stop, stop_cleanly

CHILD_LINE = re.compile(r"^\S+ [A-Z]+ \[[\w-]+\] ")  # a child's log line: "<time> WARNING [hooks] …"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**run_env(tmp_path / "data"), "GATEWAY_PROCESSES": "2"}
    yield env
    asyncio.run(delete_topology(Settings.from_env(env)))


def wait_for(what: str, predicate: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f}s"
        time.sleep(0.1)


def metric(env: dict[str, str], name: str) -> float:
    """The sum of the samples of ``name`` that a gateway's /metrics serves."""
    request = urllib.request.Request(f"http://127.0.0.1:{env['PORT']}/metrics",
                                     headers={"Authorization": f"Key {env['ADMIN_KEY']}"})
    with urllib.request.urlopen(request, timeout=20) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if re.match(rf"{re.escape(name)}(\{{| )", line))


def post(env: dict[str, str], resource: str) -> dict[str, object]:
    return call(env, "POST", "/alert", {"resource": resource, "event": "Down", "environment": "Production",
                                        "service": ["run"], "severity": "minor"})


@pytest.mark.timeout(240)
def test_each_service_in_its_own_process_and_a_dead_gateway_is_started_again(env: dict[str, str]) -> None:
    proc = start_run(env)
    try:
        services = services_of(proc.pid)
        assert sorted(services) == ["gateway", "hooks", "ingest", "query"]
        assert len(services["gateway"]) == 2 and all(len(services[name]) == 1 for name in ("ingest", "query", "hooks"))
        for _ in range(20):
            assert post(env, unique("run"))["status"] == "ok"
        # Metrics of every process of the run, served by whichever gateway answers.
        assert metric(env, "alertbus_alerts_received_total") == 20
        assert metric(env, "alertbus_http_requests_total") >= 20

        victim = services["gateway"][0]
        os.kill(victim, signal.SIGKILL)
        wait_for("a new gateway process", lambda: len(set(services_of(proc.pid).get("gateway", [])) - {victim}) == 2,
                 30.0)
        for _ in range(10):
            assert post(env, unique("run"))["status"] == "ok"
        assert metric(env, "alertbus_alerts_received_total") == 30
        everyone = [pid for pids in services_of(proc.pid).values() for pid in pids]
    finally:
        stop_cleanly(proc)
    assert all(gone(pid) for pid in everyone)
    log = proc.output()
    assert "the gateway-1 process was killed by SIGKILL; starting it again" in log or \
        "the gateway-2 process was killed by SIGKILL; starting it again" in log, log


@pytest.mark.timeout(240)
def test_a_service_that_keeps_dying_stops_the_run_with_one_clear_line(env: dict[str, str]) -> None:
    proc = start_run(env)
    try:
        killed: set[int] = set()
        while proc.poll() is None:
            ingest = [pid for pid in services_of(proc.pid).get("ingest", []) if pid not in killed]
            for pid in ingest:
                killed.add(pid)
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
            assert len(killed) <= 10, "the run did not give up"
        code = proc.wait()
        lines = proc.output().splitlines()
    finally:
        stop(proc)
    assert code == 1
    assert "alertbus: the ingest process was killed by SIGKILL, its 5th end within 60s: alertbus stops (see its " \
           "log above)" in lines, lines
    # The run's own last line; a child still starting may log its own shutdown after it (e.g. aiormq's warning
    # about a queue declaration the shutdown cancelled).
    own = [line for line in lines if not CHILD_LINE.match(line)]
    assert own[-1] == "alertbus is shutting down", lines


def test_the_gateway_processes_default_to_one_per_core() -> None:
    from services.supervisor import gateway_processes

    assert gateway_processes(Settings.from_env({})) == (os.cpu_count() or 1)
    assert gateway_processes(Settings.from_env({"GATEWAY_PROCESSES": "3"})) == 3
    with pytest.raises(Exception, match="GATEWAY_PROCESSES"):
        Settings.from_env({"GATEWAY_PROCESSES": "-1"})


def test_an_external_store_that_does_not_answer_is_one_line_before_any_child(env: dict[str, str]) -> None:
    port = free_port()  # nothing listens there
    result = subprocess.run([venv_command("alertbus"), "run"], env={**env, "DATABASE_URL": f"mongodb://127.0.0.1:{port}/x"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"alertbus: the store at mongodb://127.0.0.1:{port}/x did not answer within 5s (ServerSelectionTimeoutError): "
        "start it, or check the host, port and credentials in DATABASE_URL"], result.stderr
