"""alertbus as in production, for the benchmark and the fault-injection tests: a SecantusDB store, the query
service, N ingest workers and the gateway, each a separate OS process (``alertbus <service>``), on free ports in
a namespace of their own (tests/support/namespace.py), with their logs in a temporary directory.

Everything it creates is removed again: the processes (SIGTERM, then kill), the temporary directory (unless its
logs are kept) and the broker's queues and exchanges under the prefix (``delete_topology``). Nothing here
touches a queue or exchange outside its prefix, and the RabbitMQ server itself is never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from services.embedded import free_port, server_argv, server_url, venv_command
from shared.settings import Settings

from . import namespace
from .namespace import Namespace

STOP_GRACE = 25.0  # seconds a service may take to stop on SIGTERM


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    told: bool = False  # the running process was signalled on purpose (its exit is not a crash)
    exits: list[tuple[str, int, float]] = field(default_factory=list)  # (how, exit code, seconds to exit)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ProcessStack:
    """The services ``store``, ``query``, ``ingest-1`` … ``ingest-N`` and ``gateway``; ``env`` is added to every
    service's environment (after the namespace's). Each worker serves its metrics on a port of its own
    (``INGEST_PORT``)."""

    def __init__(self, kind: str, *, workers: int = 1, env: Mapping[str, str] | None = None,
                 amqp_url: str = namespace.AMQP_URL, keep_logs: bool = False) -> None:
        self.workers = workers
        self.keep_logs = keep_logs
        self.store_port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"alertbus-{kind}-"))
        admin_key = secrets.token_urlsafe(24)
        self.namespace = Namespace.fresh(kind, server_url(self.store_port), admin_key=admin_key,
                                         service_secret=admin_key + "-services", amqp_url=amqp_url)
        self.env = {**os.environ, **self.namespace.env(), "PYTHONUNBUFFERED": "1", **(env or {})}
        alertbus = venv_command("alertbus")
        self.services = {"store": Service("store", server_argv(self.store_port, self.tmp / "store"), self.env),
                         "query": Service("query", [alertbus, "query"], self.env)}
        for name in self.worker_names:
            self.services[name] = Service(name, [alertbus, "ingest"], {**self.env, "INGEST_PORT": str(free_port())})
        self.services["gateway"] = Service("gateway", [alertbus, "gateway"], self.env)

    @property
    def prefix(self) -> str:
        return self.namespace.prefix

    @property
    def admin_key(self) -> str:
        return self.namespace.admin_key

    @property
    def url(self) -> str:
        return self.namespace.url

    @property
    def database_url(self) -> str:
        return self.namespace.database_url

    @property
    def settings(self) -> Settings:
        """What the services read from their environment."""
        return Settings.from_env(self.env)

    @property
    def worker_names(self) -> list[str]:
        return [f"ingest-{n + 1}" for n in range(self.workers)]

    # -- processes ------------------------------------------------------------------------------

    def spawn(self, name: str) -> None:
        service = self.services[name]
        assert not service.alive, f"{name} is already running"
        service.told = False
        if name == "store":
            (self.tmp / "store").mkdir(exist_ok=True)
        with open(self.tmp / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            service.process = subprocess.Popen(service.argv, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, env=service.env, cwd=self.tmp)

    async def start(self, timeout: float = 60.0, *, one_worker_at_a_time: bool = False) -> None:
        """Store, query, the workers, the gateway; until the gateway is ready. ``one_worker_at_a_time``: each
        worker listens before the next starts, so that the first subscribes to every shard first."""
        self.spawn("store")
        await self.wait_for_port(self.store_port, timeout)
        self.spawn("query")  # first: the gateway forwards reads to it
        for name in self.worker_names:
            self.spawn(name)
            if one_worker_at_a_time:
                await self.wait_for_port(int(self.services[name].env["INGEST_PORT"]), timeout)
        self.spawn("gateway")
        await self.wait_until_ready(timeout)

    async def signal_and_wait(self, name: str, sig: signal.Signals, wait: float = STOP_GRACE) -> float:
        """Send a signal and wait for the process to exit; the seconds it took (the exit is recorded)."""
        service = self.services[name]
        assert service.process is not None and service.alive, f"{name} is not running"
        started = time.monotonic()
        service.told = True
        service.process.send_signal(sig)
        deadline = started + wait
        asked = False
        while service.process.poll() is None:
            if not asked and time.monotonic() > deadline - 1:
                # Where it hangs, in its log, before it is killed (services log their tasks on SIGUSR1).
                asked = True
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGUSR1)
            if time.monotonic() > deadline:
                service.process.kill()
                service.process.wait()
                service.exits.append((f"{sig.name} (ignored; killed)", -9, wait))
                return wait
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        service.exits.append((sig.name, service.process.returncode, took))
        return took

    def pause(self, name: str) -> None:
        """SIGSTOP: the process freezes where it is, holding its connections (and its deliveries)."""
        service = self.services[name]
        assert service.process is not None and service.alive
        service.process.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        service = self.services[name]
        assert service.process is not None and service.alive
        service.process.send_signal(signal.SIGCONT)

    def restart(self, *names: str) -> None:
        for name in names:
            self.spawn(name)

    def exited(self) -> dict[str, int]:
        """Services that exited without being told to (a crash), with their exit codes."""
        return {name: code for name, s in self.services.items()
                if s.process is not None and (code := s.process.poll()) is not None and not s.told}

    def pids(self) -> dict[str, int]:
        return {name: s.process.pid for name, s in self.services.items() if s.process is not None}

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM to every service in reverse start order (gateway, workers, query, store), then kill what is
        left after ``grace``; the temporary directory goes too unless ``keep_logs``."""
        running = [s for s in reversed(self.services.values()) if s.alive and s.process is not None]
        for service in running:
            assert service.process is not None
            service.told = True
            service.process.send_signal(signal.SIGTERM)
        for service in running:
            assert service.process is not None
            try:
                service.process.wait(grace)
            except subprocess.TimeoutExpired:
                print(f"{service.name} ignored SIGTERM for {grace:.0f}s; killing it", file=sys.stderr)
                service.process.kill()
                service.process.wait()
        if not self.keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def delete_topology(self) -> int:
        """Delete the namespace's queues and exchanges, and any other the broker lists under its prefix; returns
        how many deletes the broker confirmed."""
        queues, exchanges = listed_names(self.prefix)
        return await namespace.delete_topology(self.settings, queues=queues, exchanges=exchanges)

    # -- readiness and logs ---------------------------------------------------------------------

    async def wait_for_port(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f}s") from None
                await asyncio.sleep(0.1)

    async def wait_until_ready(self, timeout: float = 60.0) -> None:
        """Until the gateway's readiness probe (``/management/gtg``) says the broker and the store are reachable."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            while True:
                self._check_alive()
                try:
                    async with session.get(self.url + "/management/gtg") as response:
                        if response.status == 200:
                            return
                except (TimeoutError, aiohttp.ClientError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the gateway at {self.url} was not ready within {timeout:.0f}s\n{self.logs()}")
                await asyncio.sleep(0.2)

    def _check_alive(self) -> None:
        crashed = self.exited()
        if crashed:
            raise RuntimeError(f"services exited: {crashed}\n{self.logs()}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"--- {name} ---\n{self.log_tail(name, lines)}" for name in self.services)


def listed_names(prefix: str) -> tuple[set[str], set[str]]:
    """Queues and exchanges under ``prefix`` as the broker lists them (also objects that other services added);
    empty when ``rabbitmqctl`` is not usable here: the known names are deleted all the same."""
    found: list[set[str]] = []
    for what in ("list_queues", "list_exchanges"):
        try:
            output = subprocess.run(["rabbitmqctl", "-q", what, "name"], capture_output=True, text=True,
                                    timeout=30, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            output = ""
        found.append({line.strip() for line in output.splitlines() if line.strip().startswith(prefix)})
    return found[0], found[1]
