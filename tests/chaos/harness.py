"""The fault-injection stack: SecantusDB, query, N ingest workers and the gateway, each a separate OS process
(as in production), on free ports, under a unique ``BROKER_PREFIX`` and a temporary directory; and the broker
seen from outside (``rabbitmqctl``), limited to this run's own connections and queues.

The broker is shared with other people's test runs: nothing here touches a connection, queue or exchange
whose name does not start with this run's prefix, and the RabbitMQ server itself is never stopped.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aiohttp

from services.embedded import free_port, venv_command

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
RPC_TIMEOUT = 5.0  # seconds POST /alert waits for the worker before it answers 202
SHARDS = 4
STOP_GRACE = 25.0  # seconds a service may take to stop on SIGTERM


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    told: bool = False  # the running process was signalled by the test (its exit is not a crash)
    exits: list[tuple[str, int, float]] = field(default_factory=list)  # (how, exit code, seconds to exit)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ChaosStack:
    workers: int = 2
    prefix: str = field(default_factory=lambda: f"chaos-{secrets.token_hex(4)}.")
    admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    query_port: int = field(default_factory=free_port)
    store_port: int = field(default_factory=free_port)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="alertbus-chaos-")))
    services: dict[str, Service] = field(default_factory=dict)
    write_key: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.store_port}/alertbus?directConnection=true"

    @property
    def worker_names(self) -> list[str]:
        return [f"ingest-{n + 1}" for n in range(self.workers)]

    def _env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ, "AMQP_URL": AMQP_URL, "BROKER_PREFIX": self.prefix, "DATABASE_URL": self.database_url,
            "PORT": str(self.port), "QUERY_PORT": str(self.query_port), "HOOKS_PORT": str(free_port()),
            "ADMIN_KEY": self.admin_key, "SERVICE_SECRET": self.admin_key + "-services",
            "INGEST_SHARDS": str(SHARDS), "RPC_TIMEOUT": str(RPC_TIMEOUT),
            "MAX_DELIVERIES": "5", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **extra,
        }

    def _define(self) -> None:
        alertbus = venv_command("alertbus")
        store_dir = self.tmp / "store"
        store_dir.mkdir(exist_ok=True)
        self.services["store"] = Service("store", [
            venv_command("secantusd-py"), "--host", "127.0.0.1", "--port", str(self.store_port),
            "--storage-path", str(store_dir), "--log-level", "WARNING"], self._env())
        self.services["query"] = Service("query", [alertbus, "query"], self._env())
        for name in self.worker_names:
            self.services[name] = Service(name, [alertbus, "ingest"], self._env(INGEST_PORT=str(free_port())))
        self.services["gateway"] = Service("gateway", [alertbus, "gateway"], self._env())

    # -- processes ------------------------------------------------------------------------------

    def spawn(self, name: str) -> None:
        service = self.services[name]
        assert not service.alive, f"{name} is already running"
        service.told = False
        with open(self.tmp / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            service.process = subprocess.Popen(service.argv, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, env=service.env, cwd=self.tmp)

    async def start(self, timeout: float = 60.0) -> None:
        self._define()
        self.spawn("store")
        await self.wait_for_port(self.store_port, timeout)
        self.spawn("query")
        # One worker after the other: the first subscribes to every shard first, so it is the active consumer
        # of all of them (single active consumer) and the others stand by.
        for name in self.worker_names:
            self.spawn(name)
            await self.wait_for_port(int(self.services[name].env["INGEST_PORT"]), timeout)
        self.spawn("gateway")
        await self.wait_until_ready(timeout)
        self.write_key = await self._create_write_key()

    async def signal_and_wait(self, name: str, sig: signal.Signals, wait: float = STOP_GRACE) -> float:
        """Send a signal and wait for the process to exit; the seconds it took (the exit is recorded)."""
        service = self.services[name]
        assert service.process is not None and service.alive, f"{name} is not running"
        started = time.monotonic()
        service.told = True
        service.process.send_signal(sig)
        deadline = started + wait
        while service.process.poll() is None:
            if time.monotonic() > deadline:
                service.process.kill()
                service.process.wait()
                service.exits.append((f"{sig.name} (ignored; killed)", -9, wait))
                return wait
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        service.exits.append((sig.name, service.process.returncode, took))
        return took

    async def stop_all(self, sig: signal.Signals = signal.SIGTERM) -> dict[str, tuple[int, float]]:
        """Signal every alertbus service at once; their exit codes and stop times."""
        names = [name for name in ("gateway", *self.worker_names, "query") if self.services[name].alive]
        times = await asyncio.gather(*(self.signal_and_wait(name, sig) for name in names))
        return {name: (self.services[name].exits[-1][1], took) for name, took in zip(names, times, strict=True)}

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
        """Services that died without being told to (a crash)."""
        return {name: code for name, s in self.services.items()
                if s.process is not None and (code := s.process.poll()) is not None and not s.told}

    def close(self) -> None:
        for service in reversed(list(self.services.values())):
            if service.alive and service.process is not None:
                service.process.send_signal(signal.SIGTERM)
        for service in reversed(list(self.services.values())):
            if service.process is not None and service.process.poll() is None:
                try:
                    service.process.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    service.process.kill()
                    service.process.wait()
        if os.environ.get("CHAOS_KEEP_LOGS"):
            print(f"chaos: logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"--- {name} ---\n{self.log_tail(name, lines)}" for name in self.services)

    # -- readiness ------------------------------------------------------------------------------

    async def wait_for_port(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f}s") from None
                await asyncio.sleep(0.1)

    async def wait_until_ready(self, timeout: float = 60.0) -> None:
        """Until the gateway's readiness probe says the broker and the store are reachable."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            while True:
                crashed = {n: c for n, c in self.exited().items()}
                if crashed:
                    raise RuntimeError(f"services exited: {crashed}\n{self.logs()}")
                try:
                    async with session.get(self.url + "/management/gtg") as response:
                        if response.status == 200:
                            return
                except (TimeoutError, aiohttp.ClientError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the gateway was not ready within {timeout:.0f}s\n{self.logs()}")
                await asyncio.sleep(0.2)

    async def _create_write_key(self) -> str:
        """A plain write key: the load authenticates as a producer would, not with the ADMIN_KEY (which the
        gateway checks without the store)."""
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url + "/key", json={"user": "chaos", "scopes": ["write"]},
                                    headers={"Authorization": f"Key {self.admin_key}"}) as response:
                body = await response.json()
                assert response.status == 201, body
                return str(body["key"])

    async def metric(self, name: str, service: str) -> float:
        """A counter summed over its labels, from a worker's own /metrics port (0 when unreachable)."""
        port = self.services[service].env["INGEST_PORT"]
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    text = await response.text()
        except (TimeoutError, aiohttp.ClientError):
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))


# -- the broker, seen from outside (rabbitmqctl), limited to this run's prefix ------------------------------------


async def our_connections(prefix: str, service: str = "") -> list[tuple[str, str]]:
    """(pid, name) of the connections this run's services opened (named ``<prefix>alertbus-<service>@...``).
    The plain table, not JSON: ``close_connection`` takes the pid as the table prints it."""
    result = await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "list_connections", "pid",
                                                      "client_properties"],
                                     capture_output=True, text=True, timeout=30, check=True)
    found = []
    for line in result.stdout.splitlines():
        pid, _, props = line.partition("\t")
        match = re.search(r'\{"connection_name","([^"]*)"\}', props)
        if pid.startswith("<") and match and match.group(1).startswith(f"{prefix}alertbus-{service}"):
            found.append((pid, match.group(1)))
    return found


async def close_our_connections(prefix: str) -> list[str]:
    """``rabbitmqctl close_all_connections``, scoped to this run: close every connection of our services from
    the broker side (all at once). Returns the names of the connections closed."""
    found = await our_connections(prefix)
    await asyncio.gather(*(
        asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "close_connection", pid, "chaos test"],
                          capture_output=True, timeout=30, check=True)
        for pid, _ in found
    ))
    return [name for _, name in found]


async def ready_messages(prefix: str) -> dict[str, int]:
    """Messages ready for delivery in this run's shard queues and dead-letter queue, as the queues answer a
    passive declare now (``rabbitmqctl``'s figures are statistics, up to several seconds old)."""
    names = [f"{prefix}alertbus.ingest.{n}" for n in range(SHARDS)] + [f"{prefix}alertbus.dead"]
    counts = {}
    connection = await aio_pika.connect(AMQP_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        for name in names:
            queue = await channel.declare_queue(name, passive=True)
            counts[name] = queue.declaration_result.message_count or 0
    return counts


async def delete_topology(prefix: str) -> None:
    """Delete this run's queues and exchanges (one channel each: a failed delete closes its channel)."""
    names = [("queue", f"{prefix}alertbus.ingest.{n}") for n in range(SHARDS)]
    names += [("queue", f"{prefix}alertbus.dead"), ("queue", f"{prefix}alertbus.ingest.workers")]
    names += [("exchange", f"{prefix}alertbus.{name}") for name in ("ingest", "dlx", "events")]
    connection = await aio_pika.connect(AMQP_URL, timeout=10)
    async with connection:
        for kind, name in names:
            channel = await connection.channel()
            try:
                if kind == "queue":
                    await channel.queue_delete(name)
                else:
                    await channel.exchange_delete(name)
            except aio_pika.exceptions.AMQPError:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
